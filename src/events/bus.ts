/**
 * The event bus: the orchestrator's own events and the modules' events in one bounded
 * history with increasing ids, and subscribers that get new events as they come.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Event, EventSchema, Severity } from "../gen/callassistant/v1/resources_pb.ts";

/** What a publisher supplies; the bus adds id and time. */
export interface EventInput {
  type: string;
  severity?: Severity;
  module?: string;
  entityId?: string;
  flowId?: string;
  message: string;
  data?: JsonObject;
  traceId?: string;
  source?: "orchestrator" | "module";
}

/** The bounded event history with subscribers. */
export class EventBus {
  private history: Event[] = [];
  private nextId = 1n;
  private subscribers = new Set<(event: Event) => void>();

  constructor(readonly capacity = 10_000) {}

  /** Records an event, gives it the next id and tells every subscriber. */
  publish(input: EventInput): Event {
    const event = create(EventSchema, {
      id: this.nextId++,
      time: timestampFromDate(new Date()),
      type: input.type,
      severity: input.severity ?? Severity.INFO,
      module: input.module ?? "",
      entityId: input.entityId ?? "",
      flowId: input.flowId ?? "",
      message: input.message,
      data: input.data,
      traceId: input.traceId ?? "",
      source: input.source ?? "orchestrator",
    });
    this.history.push(event);
    if (this.history.length > this.capacity) {
      this.history.splice(0, this.history.length - this.capacity);
    }
    for (const s of this.subscribers) s(event);
    return event;
  }

  /** Events with an id greater than `afterId`, oldest first. */
  since(afterId: bigint): Event[] {
    const first = this.history.findIndex((e) => e.id > afterId);
    return first < 0 ? [] : this.history.slice(first);
  }

  /** The id of the oldest event still held, or the next id when empty. */
  oldestId(): bigint {
    return this.history[0]?.id ?? this.nextId;
  }

  /** Calls `fn` with every new event until the returned function is called. */
  subscribe(fn: (event: Event) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}

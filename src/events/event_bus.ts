/**
 * The event bus: the orchestrator's own events and the modules' events in one bounded
 * history with increasing ids, and subscribers that get new events as they come.
 *
 * A watcher (`watch`) is a cursor into the history, not a queue: it reads the events
 * after its cursor in small batches, so a slow watcher holds at most one batch and never
 * slows the publisher or the other watchers. When it falls so far behind that the
 * history has dropped events it has not read, it gets an explicit gap marker with the
 * missing ids and goes on from the oldest event still held.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Event, EventSchema, Severity } from "@callassistant/protocol";
import { currentTraceId } from "@callassistant/rpc";

/** What a publisher supplies; the bus adds id and time. */
export interface EventInput {
  type: string;
  severity?: Severity;
  module?: string;
  entityId?: string;
  flowId?: string;
  message: string;
  data?: JsonObject;
  /**
   * The trace id of the request that caused it. Undefined takes the trace of the call
   * being handled (if any); "" means none.
   */
  traceId?: string;
  source?: "orchestrator" | "module";
}

/** Events lost between two ids, as a watcher sees them. */
export interface EventGapInfo {
  fromId: bigint;
  toId: bigint;
  reason: string;
}

/** One item a watcher gets: an event, or a gap marker. */
export type WatchItem = { event: Event; gap?: undefined } | {
  gap: EventGapInfo;
  event?: undefined;
};

/** Options of {@link EventBus.watch}. */
export interface WatchOptions {
  /**
   * Replay the held events newer than this id first (0n for all of them); undefined for
   * none: only events published from now on.
   */
  afterId?: bigint;
  /** Only events for which this returns true (gap markers always pass). */
  filter?: (event: Event) => boolean;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** The longest message kept; longer ones are cut. */
const MAX_MESSAGE_CHARS = 4096;
/** How many events a watcher copies from the history at a time. */
const BATCH = 256;

/** The bounded event history with subscribers and watchers. */
export class EventBus {
  readonly #ring: (Event | undefined)[];
  #start = 0;
  #count = 0;
  #nextId = 1n;
  #subscribers = new Set<(event: Event) => void>();
  #wakers = new Set<() => void>();
  #watching = 0;

  constructor(readonly capacity = 10_000) {
    this.#ring = new Array(capacity);
  }

  /** Records an event, gives it the next id and tells every subscriber and watcher. */
  publish(input: EventInput): Event {
    const message = input.message.length > MAX_MESSAGE_CHARS
      ? input.message.slice(0, MAX_MESSAGE_CHARS) + "…"
      : input.message;
    const event = create(EventSchema, {
      id: this.#nextId++,
      time: timestampFromDate(new Date()),
      type: input.type,
      severity: input.severity || Severity.INFO,
      module: input.module ?? "",
      entityId: input.entityId ?? "",
      flowId: input.flowId ?? "",
      message,
      data: input.data,
      traceId: input.traceId ?? currentTraceId() ?? "",
      source: input.source ?? "orchestrator",
    });
    if (this.#count < this.capacity) {
      this.#ring[(this.#start + this.#count) % this.capacity] = event;
      this.#count++;
    } else {
      this.#ring[this.#start] = event;
      this.#start = (this.#start + 1) % this.capacity;
    }
    for (const s of this.#subscribers) {
      try {
        s(event);
      } catch {
        // A subscriber's failure is its own.
      }
    }
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const w of wakers) w();
    return event;
  }

  /** How many events the history holds. */
  get size(): number {
    return this.#count;
  }

  /** How many watchers are reading. */
  get watchers(): number {
    return this.#watching;
  }

  /** The id of the oldest event still held, or the next id when empty. */
  oldestId(): bigint {
    return this.#count > 0 ? this.#ring[this.#start]!.id : this.#nextId;
  }

  /** The id of the newest event, 0n before the first. */
  lastId(): bigint {
    return this.#nextId - 1n;
  }

  /** Held events with an id greater than `afterId`, oldest first, at most `limit`. */
  since(afterId: bigint, limit = Infinity): Event[] {
    const oldest = this.oldestId();
    const skip = afterId < oldest ? 0 : Number(afterId - oldest + 1n);
    const n = Math.min(this.#count - skip, limit);
    const out: Event[] = [];
    for (let i = 0; i < n; i++) out.push(this.#ring[(this.#start + skip + i) % this.capacity]!);
    return out;
  }

  /** Calls `fn` with every new event until the returned function is called. */
  subscribe(fn: (event: Event) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /**
   * Yields the held events after `afterId` (if given; 0 for all), then new events as they are
   * published, until `signal` aborts or the consumer stops. Gap markers say which ids
   * were lost: events older than the history (at the start or because this watcher fell
   * behind), or a cursor from an earlier run of the orchestrator.
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchItem> {
    const { filter, signal } = options;
    let cursor = options.afterId ?? this.lastId();
    let lagging = false;
    if (cursor > this.lastId()) {
      // Ids restart at 1 with every run: a cursor ahead of the newest event comes from an
      // earlier run. Replay all that is held.
      yield {
        gap: {
          fromId: 1n,
          toId: this.oldestId() - 1n,
          reason: `event ${cursor} is newer than the newest event (${this.lastId()}): ` +
            `the orchestrator was restarted since; replaying the history it holds`,
        },
      };
      cursor = this.oldestId() - 1n;
    }
    let wake: (() => void) | undefined;
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort);
    this.#watching++;
    try {
      while (!signal?.aborted) {
        const oldest = this.oldestId();
        if (cursor + 1n < oldest) {
          yield {
            gap: {
              fromId: cursor + 1n,
              toId: oldest - 1n,
              reason: lagging
                ? "the watcher fell behind and the history no longer holds these events"
                : "the history no longer holds these events",
            },
          };
          cursor = oldest - 1n;
        }
        // Any later gap is this watcher's own slowness.
        lagging = true;
        const batch = this.since(cursor, BATCH);
        if (batch.length === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            this.#wakers.add(resolve);
          });
          this.#wakers.delete(wake!);
          wake = undefined;
          continue;
        }
        for (const event of batch) {
          if (signal?.aborted) return;
          cursor = event.id;
          if (!filter || filter(event)) yield { event };
        }
      }
    } finally {
      this.#watching--;
      if (wake) this.#wakers.delete(wake);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

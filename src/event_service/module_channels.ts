/**
 * The event channel of each module process: its flood-control limits, the sequence
 * numbers it already sent, its open Connect stream (if any) and the commands waiting for
 * a result on it. A new process (a new token) gets a new channel; the old one's stream is
 * ended.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CommandResult, ConnectResponseSchema } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { AsyncQueue } from "../async/async_queue.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { FloodControl, ModuleLimits } from "./flood_control.ts";

/** A downward message of the Connect stream. */
export type ConnectResponseInit = MessageInitShape<typeof ConnectResponseSchema>;

/** An open Connect stream, as its channel sees it. */
export interface ChannelStream {
  readonly out: AsyncQueue<ConnectResponseInit>;
  /** Ends the stream with an error (or cleanly without). */
  end(err?: RpcError): void;
}

/** A command sent on the stream, waiting for its result. */
export interface PendingCommand {
  resolve: (r: CommandResult) => void;
  reject: (e: unknown) => void;
}

/** What the orchestrator keeps per module process. */
export interface Channel {
  readonly module: string;
  readonly token: string;
  readonly limits: ModuleLimits;
  /** The highest sequence number seen on the stream. */
  lastSequence: bigint;
  /** Event ids of recent sequence numbers, to ack a resend again. */
  readonly recent: Map<bigint, bigint>;
  stream?: ChannelStream;
  readonly commands: Map<string, PendingCommand>;
}

/** The channels of every module instance. */
export class ChannelTable {
  // One channel per instance: the instances of a replicated module each have a stream.
  readonly #channels = new Map<string, Channel>();

  readonly #flood: FloodControl;

  constructor(flood: FloodControl) {
    this.#flood = flood;
  }

  /** The channel of the calling module's current process (reset on a new token). */
  of(record: ModuleRecord): Channel {
    let ch = this.#channels.get(record.instanceName);
    if (!ch || ch.token !== record.token) {
      ch?.stream?.end(new RpcError(Code.UNAVAILABLE, "the module was restarted"));
      ch = {
        module: record.name,
        token: record.token,
        limits: this.#flood.limitsFor(record.name),
        lastSequence: 0n,
        recent: new Map(),
        commands: new Map(),
      };
      this.#channels.set(record.instanceName, ch);
    }
    return ch;
  }

  /** The channel of an instance if its current process has an open stream. */
  open(record: ModuleRecord): Channel | undefined {
    const ch = this.#channels.get(record.instanceName);
    return ch?.stream && ch.token === record.token ? ch : undefined;
  }

  /** Names of the modules with an open Connect stream. */
  connectedModules(): string[] {
    return [...new Set([...this.#channels.values()].filter((c) => c.stream).map((c) => c.module))];
  }

  /** Ends every stream with `err`. */
  endAll(err: RpcError): void {
    for (const ch of this.#channels.values()) ch.stream?.end(err);
  }
}

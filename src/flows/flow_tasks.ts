/**
 * The one serial queue every entity and flow mutation runs on (commands, recovery and
 * monitor checks alike), and the flag that stops it at shutdown.
 */
import type { Logger } from "../log/logger.ts";
import { Code, RpcError } from "@callassistant/rpc";
import { SerialQueue } from "../async/serial_queue.ts";

/** Serialised mutations, closed once at shutdown. */
export class FlowTasks {
  readonly #queue = new SerialQueue();
  #isClosed = false;

  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** True once shutdown began: no new task runs. */
  get closed(): boolean {
    return this.#isClosed;
  }

  /** True when no task is waiting or running. */
  get idle(): boolean {
    return this.#queue.idle;
  }

  /** Runs a mutation on the queue; UNAVAILABLE once closed. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#isClosed) {
      return Promise.reject(new RpcError(Code.UNAVAILABLE, "the orchestrator is shutting down"));
    }
    return this.#queue.run(task);
  }

  /** Runs an internal task on the queue; its errors are logged. */
  background(what: string, task: () => Promise<void>): void {
    if (this.#isClosed) return;
    this.#queue.run(async () => {
      if (this.#isClosed) return;
      try {
        await task();
      } catch (err) {
        this.#logger.error(`${what} failed`, { error: String((err as Error)?.stack ?? err) });
      }
    });
  }

  /** Refuses new tasks from now on. */
  close(): void {
    this.#isClosed = true;
  }

  /** Resolves once every task queued so far has run, or false after `timeoutMs`. */
  drain(timeoutMs?: number): Promise<boolean> {
    return this.#queue.drain(timeoutMs);
  }
}

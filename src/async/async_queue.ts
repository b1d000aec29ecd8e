import { Fifo } from "@callassistant/rpc";

/** A single-consumer async queue whose producer can wait for room (backpressure). */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items = new Fifo<T>();
  #wakeReader: (() => void) | undefined;
  #roomWaiters: (() => void)[] = [];
  #closed = false;
  #error: unknown = undefined;

  /** Items waiting to be read. */
  get length(): number {
    return this.#items.size;
  }

  /** True once closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Adds an item; false (dropped) once the queue is closed. */
  push(item: T): boolean {
    if (this.#closed) return false;
    this.#items.push(item);
    this.#wakeReader?.();
    return true;
  }

  /** Ends the iteration after the queued items, or at once with `error`. */
  close(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    if (error !== undefined) {
      this.#error = error;
      this.#items.clear();
    }
    this.#wakeReader?.();
    this.#releaseRoom();
  }

  /** Resolves when fewer than `limit` items wait, or the queue is closed. */
  async waitForRoom(limit: number): Promise<void> {
    while (!this.#closed && this.#items.size >= limit) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
  }

  #releaseRoom(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.#items.size > 0) {
        const item = this.#items.shift()!;
        this.#releaseRoom();
        yield item;
        continue;
      }
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => this.#wakeReader = resolve);
      this.#wakeReader = undefined;
    }
  }
}

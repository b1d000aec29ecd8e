/**
 * A serial task queue: tasks run one at a time in the order they were added. Entity and
 * flow mutations go through one queue so a flow is never built, re-routed and deleted
 * at the same time; reads do not wait for it.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Runs `task` after every task added before it; resolves or rejects with its result. */
  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(task);
    const settled = result.then(() => {}, () => {}).finally(() => this.#pending--);
    this.#tail = settled;
    return result;
  }

  /** True when no task is waiting or running. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /** Resolves once every task added so far has settled, or after `timeoutMs`. */
  async drain(timeoutMs = Infinity): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = this.#tail.then(() => true);
    if (!Number.isFinite(timeoutMs)) return await done;
    try {
      return await Promise.race([
        done,
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

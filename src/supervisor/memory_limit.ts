/**
 * The manifest's memory limit (`limits: { memory, for }`): a module whose process tree
 * stays over `memory` for `for` is restarted. Judged at every resource sample, so the
 * window is measured from the first sample over the limit to a sample at least `for`
 * later that is still over it; one sample under the limit starts the window again.
 */

/** A limit in bytes and how long it may be exceeded. */
export interface MemoryLimit {
  memoryBytes: number;
  forMs: number;
}

/** The judgement of one sample. */
export interface MemoryJudgement {
  /** Since when the tree has been over the limit; undefined while under it. */
  overSince?: Date;
  /** True when the module has been over the limit for the whole window: restart it. */
  restart: boolean;
}

/**
 * Judges one sample of `rssBytes` at `now`, given when the tree was first seen over the
 * limit (`overSince`, undefined when it was under it at the last sample).
 */
export function judgeMemory(
  limit: MemoryLimit | undefined,
  rssBytes: number,
  overSince: Date | undefined,
  now: Date,
): MemoryJudgement {
  if (!limit || rssBytes <= limit.memoryBytes) return { restart: false };
  const since = overSince ?? now;
  return { overSince: since, restart: now.getTime() - since.getTime() >= limit.forMs };
}

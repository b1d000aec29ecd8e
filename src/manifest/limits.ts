/**
 * The manifest's `limits` field: `limits: { memory: 300MiB, for: 30s }`. The schema checks
 * the shape; this turns it into bytes and milliseconds and says what is wrong in words.
 */
import { parseDuration } from "./duration.ts";
import { DEFAULTS } from "./manifest.ts";
import { parseMemorySize } from "./memory_size.ts";

/** The parsed limits, or problems as [field, message]. */
export interface ParsedLimits {
  limits?: { memoryBytes: number; forMs: number };
  problems: [string, string][];
}

/** Parses `limits` (undefined when the manifest has none); `remote` for an `address` module. */
export function parseLimits(value: unknown, remote: boolean): ParsedLimits {
  if (value === undefined || value === null || typeof value !== "object") return { problems: [] };
  if (remote) {
    return {
      problems: [["limits", "only for modules the orchestrator starts, not with address"]],
    };
  }
  const raw = value as Record<string, unknown>;
  const problems: [string, string][] = [];
  let memoryBytes = 0;
  let forMs = DEFAULTS.limitForMs;
  if (typeof raw.memory === "string" || typeof raw.memory === "number") {
    try {
      memoryBytes = parseMemorySize(raw.memory);
    } catch (err) {
      problems.push(["limits.memory", (err as Error).message]);
    }
  }
  if (typeof raw.for === "string" || typeof raw.for === "number") {
    try {
      forMs = parseDuration(raw.for);
    } catch (err) {
      problems.push(["limits.for", (err as Error).message]);
    }
  }
  if (problems.length > 0 || memoryBytes === 0) return { problems };
  return { limits: { memoryBytes, forMs }, problems };
}

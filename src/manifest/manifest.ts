/** The parsed, validated form of a `module.yaml` with every default filled in. */
import type { ModuleTls } from "./tls.ts";

/** When to restart a module that exited. */
export type RestartPolicy = "always" | "on-failure" | "never";

/** A module manifest with defaults applied. Durations are milliseconds. */
export interface Manifest {
  /** Unique module name. */
  name: string;
  version: string;
  description: string;
  /** argv to start the module; empty for a remote module. */
  command: string[];
  /** argv used with --dev; falls back to `command`. */
  devCommand: string[];
  dependencies: string[];
  env: Record<string, string>;
  restart: {
    policy: RestartPolicy;
    backoffInitialMs: number;
    backoffMaxMs: number;
    /** Restarts allowed in `windowMs` before the module is parked in FAILED. */
    limit: number;
    windowMs: number;
    /** Uptime after which the backoff starts again from `backoffInitialMs`. */
    stableAfterMs: number;
  };
  health: {
    intervalMs: number;
    timeoutMs: number;
    failureThreshold: number;
    startGraceMs: number;
  };
  startTimeoutMs: number;
  stopTimeoutMs: number;
  replicas: number;
  /** The media watchdog's settings for the connections this module measures. */
  media?: {
    /** The stall timeout of flows created without one; undefined for the default (5 s). */
    stallTimeoutMs?: number;
  };
  /** The memory limit of the module's process tree (see memory_limit.ts); none when unset. */
  limits?: { memoryBytes: number; forMs: number };
  /** The user (and group) to run the module's processes as; empty for the orchestrator's. */
  user: string;
  group: string;
  /** host:port of a remote module; empty for a spawned one. */
  address: string;
  /** TLS (or mutual TLS) towards the remote module; plaintext without. */
  tls?: ModuleTls;
  /** Absolute path of the module.yaml file. */
  path: string;
  /** Absolute path of the directory the module runs in. */
  dir: string;
  /** SHA-256 (hex) of the manifest text, to notice edits. */
  digest: string;
}

/** A problem with a manifest, located in its file. */
export interface ManifestProblem {
  /** The module.yaml path. */
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** The field at fault, dotted (e.g. "restart.policy"); empty for the whole file. */
  field: string;
  message: string;
}

/** Formats a problem as "file:line: field: message". */
export function formatProblem(p: ManifestProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}` : p.file;
  return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

/** Defaults for every optional manifest field (documented in the README). */
export const DEFAULTS = {
  restart: {
    policy: "always" as RestartPolicy,
    backoffInitialMs: 500,
    backoffMaxMs: 30_000,
    limit: 5,
    windowMs: 60_000,
    stableAfterMs: 30_000,
  },
  health: { intervalMs: 5_000, timeoutMs: 2_000, failureThreshold: 3, startGraceMs: 5_000 },
  startTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
  replicas: 1,
  limitForMs: 30_000,
};

/**
 * Samples the CPU and resident memory of every running module instance's process tree
 * from /proc (about every 5 s), keeps the figures in `ModuleRecord.resources` (the API's
 * `Module.resources` and `ModuleReplica.resources`) and applies the manifest's memory
 * limit. One /proc scan per sample serves every module (see process_tree.ts).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ModuleResourcesSchema, Severity } from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import { formatBytes } from "../manifest/memory_size.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import { judgeMemory } from "./memory_limit.ts";
import { scanProcesses, treeOf, usageOf } from "./process_tree.ts";

/** The default time between samples. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 5_000;

/**
 * The interval from `CA_RESOURCE_INTERVAL_MS` (tests and benches sample faster; 0 turns
 * sampling, and so memory limits, off), else undefined (the default); throws naming the
 * variable when it is neither 0 nor a whole number from 100.
 */
export function samplerIntervalFromEnv(): number | undefined {
  const raw = Deno.env.get("CA_RESOURCE_INTERVAL_MS");
  if (raw === undefined || raw === "") return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || (ms < 100 && ms !== 0)) {
    throw new Error(
      `CA_RESOURCE_INTERVAL_MS must be 0 (off) or a whole number of ms from 100, not "${raw}"`,
    );
  }
  return ms;
}

/** What the sampler reads and whom it tells. */
export interface SamplerOptions {
  registry: ModuleRegistry;
  bus: EventBus;
  logger: Logger;
  /** Time between samples (default 5 s). */
  intervalMs?: number;
  /** Restarts one instance that stayed over its memory limit (the supervisor's). */
  restart: (record: ModuleRecord, reason: string) => void;
}

/** The previous sample of an instance, for CPU rates and a monotonic CPU counter. */
interface Previous {
  pid: number;
  cpuSeconds: number;
  at: number;
}

/** Samples module resources on a timer. */
export class ResourceSampler {
  #timer?: ReturnType<typeof setInterval>;
  readonly #previous = new WeakMap<ModuleRecord, Previous>();
  /** Wall time spent sampling, in ms, and how many samples: for the bench and logs. */
  readonly cost = { ms: 0, samples: 0 };

  readonly #options: SamplerOptions;

  constructor(options: SamplerOptions) {
    this.#options = options;
  }

  /** Starts sampling (a first sample right away). */
  start(): void {
    this.sample();
    this.#timer = setInterval(
      () => this.sample(),
      this.#options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS,
    );
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Takes one sample of every running instance now. */
  sample(): void {
    const started = performance.now();
    const instances = this.#options.registry.list().flatMap((r) => [r, ...r.replicas]);
    const running = instances.filter((r) => r.pid > 0);
    for (const r of instances) if (r.pid <= 0) r.resources = undefined;
    if (running.length > 0) {
      const snapshot = scanProcesses();
      const now = new Date();
      for (const record of running) {
        try {
          this.#sampleOne(record, treeOf(snapshot, record.pid), now);
        } catch (err) {
          this.#options.logger.warn("resource sample failed", {
            module: record.instanceName,
            error: (err as Error).message,
          });
        }
      }
    }
    this.cost.ms += performance.now() - started;
    this.cost.samples++;
  }

  #sampleOne(record: ModuleRecord, tree: ReturnType<typeof treeOf>, now: Date): void {
    if (tree.length === 0) return; // Exited between the listing and the scan.
    const usage = usageOf(tree);
    const prev = this.#previous.get(record);
    const samePid = prev?.pid === record.pid;
    // A child reaped by someone outside the tree takes its time with it: the counter
    // never goes down while the process is the same.
    const cpuSeconds = samePid ? Math.max(prev.cpuSeconds, usage.cpuSeconds) : usage.cpuSeconds;
    const elapsed = samePid ? (now.getTime() - prev.at) / 1000 : 0;
    const cpuCores = elapsed > 0 ? (cpuSeconds - prev!.cpuSeconds) / elapsed : 0;
    this.#previous.set(record, { pid: record.pid, cpuSeconds, at: now.getTime() });
    const limit = record.manifest?.limits;
    const wasOver = record.resources?.overLimitSince;
    const judged = judgeMemory(
      limit,
      usage.rssBytes,
      samePid && wasOver
        ? new Date(Number(wasOver.seconds) * 1000 + wasOver.nanos / 1e6)
        : undefined,
      now,
    );
    record.resources = create(ModuleResourcesSchema, {
      cpuSeconds,
      cpuCores: Math.round(cpuCores * 1000) / 1000,
      rssBytes: BigInt(usage.rssBytes),
      processes: usage.processes,
      sampledAt: timestampFromDate(now),
      memoryLimitBytes: BigInt(limit?.memoryBytes ?? 0),
      overLimitSince: judged.overSince && timestampFromDate(judged.overSince),
    });
    if (judged.restart && limit) this.#restartOverLimit(record, usage.rssBytes, limit, judged);
  }

  #restartOverLimit(
    record: ModuleRecord,
    rssBytes: number,
    limit: { memoryBytes: number; forMs: number },
    judged: { overSince?: Date },
  ): void {
    const overMs = Date.now() - judged.overSince!.getTime();
    const reason = `resident memory ${formatBytes(rssBytes)} over the limit of ${
      formatBytes(limit.memoryBytes)
    } for ${(overMs / 1000).toFixed(1)} s (limits.for ${limit.forMs / 1000} s)`;
    this.#options.logger.warn("module over its memory limit, restarting", {
      module: record.instanceName,
      rss_bytes: rssBytes,
      limit_bytes: limit.memoryBytes,
    });
    this.#options.bus.publish({
      type: "module.memory_limit",
      severity: Severity.WARNING,
      module: record.name,
      message: `${record.instanceName}: ${reason}: restarting`,
      data: {
        instance: record.replicaIndex,
        pid: record.pid,
        rss_bytes: rssBytes,
        limit_bytes: limit.memoryBytes,
        for_s: limit.forMs / 1000,
        over_s: Math.round(overMs / 100) / 10,
      },
    });
    // Forget the window: the next process starts under the limit.
    if (record.resources) record.resources.overLimitSince = undefined;
    this.#previous.delete(record);
    this.#options.restart(record, `over its memory limit: ${reason}`);
  }
}

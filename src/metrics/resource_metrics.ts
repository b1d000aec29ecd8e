/**
 * Per-module resource families of `/metrics`, read from the resource sampler's last
 * figures (`ModuleRecord.resources`), one series per running instance:
 * - `callassistant_module_cpu_seconds_total{module,instance}`: user + system CPU of the
 *   instance's process tree since its current process started (resets at a restart,
 *   which Prometheus' `rate()` handles);
 * - `callassistant_module_resident_memory_bytes{module,instance}`: resident memory of the
 *   tree;
 * - `callassistant_module_processes{module,instance}`: processes in the tree;
 * - `callassistant_module_memory_limit_bytes{module}`: the manifest's limit, when set.
 */
import type { ModuleRegistry } from "../modules/module_registry.ts";
import * as client from "./prom.ts";

/** Registers the per-module resource families on `registry`. */
export function registerResourceMetrics(registry: client.Registry, modules: ModuleRegistry): void {
  const instances = () =>
    modules.list().flatMap((r) => [r, ...r.replicas]).flatMap((r) =>
      r.resources && r.pid > 0
        ? [{ labels: { module: r.name, instance: String(r.replicaIndex) }, res: r.resources }]
        : []
    );
  const reg = [registry];
  new client.Counter({
    name: "callassistant_module_cpu_seconds_total",
    help: "User and system CPU time of the module instance's process tree, in seconds.",
    labelNames: ["module", "instance"] as const,
    registers: reg,
    collect() {
      this.reset();
      for (const { labels, res } of instances()) this.inc(labels, res.cpuSeconds);
    },
  });
  new client.Gauge({
    name: "callassistant_module_resident_memory_bytes",
    help: "Resident memory of the module instance's process tree, in bytes.",
    labelNames: ["module", "instance"] as const,
    registers: reg,
    collect() {
      this.reset();
      for (const { labels, res } of instances()) this.set(labels, Number(res.rssBytes));
    },
  });
  new client.Gauge({
    name: "callassistant_module_processes",
    help: "Processes in the module instance's process tree.",
    labelNames: ["module", "instance"] as const,
    registers: reg,
    collect() {
      this.reset();
      for (const { labels, res } of instances()) this.set(labels, res.processes);
    },
  });
  new client.Gauge({
    name: "callassistant_module_memory_limit_bytes",
    help: "The manifest's limits.memory of the module, in bytes.",
    labelNames: ["module"] as const,
    registers: reg,
    collect() {
      this.reset();
      for (const r of modules.list()) {
        const limit = r.manifest?.limits?.memoryBytes;
        if (limit) this.set({ module: r.name }, limit);
      }
    },
  });
}

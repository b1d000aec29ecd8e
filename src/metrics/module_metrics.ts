/**
 * Metric samples modules report with ReportMetrics, kept per module process and rendered
 * in the Prometheus text format as `module_<name>{module="<module>", <labels>}`.
 *
 * Memory is bounded: a module holds at most `maxSeriesPerModule` series (a new sample
 * of a known series replaces it), and the samples of a process that is gone are dropped.
 */
import { type Metric, MetricKind } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";

/** The prefix of every module-reported family. */
export const MODULE_METRIC_PREFIX = "module_";

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_NAME = 200;
const MAX_LABELS = 16;
const MAX_LABEL_VALUE = 256;
const MAX_HELP = 512;

interface Series {
  name: string;
  kind: MetricKind;
  help: string;
  labels: [string, string][];
  value: number;
}

interface ModuleSeries {
  token: string;
  series: Map<string, Series>;
}

/** Escapes a label value for the text format. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Module-reported metric samples. */
export class ModuleMetricsStore {
  readonly #modules = new Map<string, ModuleSeries>();

  constructor(readonly maxSeriesPerModule = 1000) {}

  /** How many series a module holds. */
  seriesCount(module: string): number {
    return this.#modules.get(module)?.series.size ?? 0;
  }

  /**
   * Validates and stores samples of `module`'s process `token`. All or nothing:
   * INVALID_ARGUMENT names the first bad sample, RESOURCE_EXHAUSTED the series limit.
   */
  report(module: string, token: string, metrics: readonly Metric[]): void {
    let held = this.#modules.get(module);
    if (!held || held.token !== token) held = { token, series: new Map() };
    const incoming: [string, Series][] = [];
    const bad = (i: number, why: string): never => {
      throw new RpcError(Code.INVALID_ARGUMENT, `metrics[${i}] (${metrics[i].name}): ${why}`);
    };
    metrics.forEach((m, i) => {
      if (!NAME.test(m.name) || m.name.length > MAX_NAME) {
        bad(i, "the name must match [a-zA-Z_][a-zA-Z0-9_]* (at most 200 characters)");
      }
      const kind = m.kind === MetricKind.COUNTER ? MetricKind.COUNTER : MetricKind.GAUGE;
      if (kind === MetricKind.COUNTER && !(m.value >= 0)) bad(i, "a counter cannot be negative");
      const labels = Object.entries(m.labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
      if (labels.length > MAX_LABELS) bad(i, `at most ${MAX_LABELS} labels`);
      for (const [k, v] of labels) {
        if (!LABEL.test(k) || k.startsWith("__")) bad(i, `label name "${k}" is not valid`);
        if (k === "module") bad(i, `label "module" is reserved (the orchestrator sets it)`);
        if (v.length > MAX_LABEL_VALUE) bad(i, `label "${k}" is longer than ${MAX_LABEL_VALUE}`);
      }
      const family = this.#familyKind(m.name, module);
      if (family !== undefined && family !== kind) {
        bad(i, `"${m.name}" is already a ${MetricKind[family].toLowerCase()}`);
      }
      const key = `${m.name}\u0000${labels.map(([k, v]) => `${k}=${v}`).join("\u0000")}`;
      incoming.push([key, {
        name: m.name,
        kind,
        help: m.help.slice(0, MAX_HELP),
        labels,
        value: m.value,
      }]);
    });
    // Within one report, a family keeps one kind too.
    const kinds = new Map<string, MetricKind>();
    incoming.forEach(([, s], i) => {
      const k = kinds.get(s.name) ?? held!.series.get(s.name)?.kind;
      if (k !== undefined && k !== s.kind) bad(i, `"${s.name}" is reported with two kinds`);
      kinds.set(s.name, s.kind);
    });
    const fresh = new Set(incoming.map(([k]) => k).filter((k) => !held!.series.has(k)));
    if (held.series.size + fresh.size > this.maxSeriesPerModule) {
      throw new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `module "${module}" would hold ${
          held.series.size + fresh.size
        } metric series; the limit is ${this.maxSeriesPerModule}`,
      );
    }
    for (const [key, s] of incoming) held.series.set(key, s);
    this.#modules.set(module, held);
  }

  #familyKind(name: string, except: string): MetricKind | undefined {
    for (const [module, held] of this.#modules) {
      if (module === except) continue;
      for (const s of held.series.values()) if (s.name === name) return s.kind;
    }
    return undefined;
  }

  /** Forgets a module's samples. */
  forget(module: string): void {
    this.#modules.delete(module);
  }

  /**
   * The samples in the Prometheus text format (0.0.4), families sorted by name. Samples
   * of processes for which `isCurrent(module, token)` is false are dropped first.
   */
  render(isCurrent: (module: string, token: string) => boolean): string {
    const families = new Map<string, { kind: MetricKind; help: string; lines: string[] }>();
    for (const [module, held] of [...this.#modules].sort(([a], [b]) => a < b ? -1 : 1)) {
      if (!isCurrent(module, held.token)) {
        this.#modules.delete(module);
        continue;
      }
      for (const s of held.series.values()) {
        const name = MODULE_METRIC_PREFIX + s.name;
        let f = families.get(name);
        if (!f) families.set(name, f = { kind: s.kind, help: "", lines: [] });
        if (!f.help && s.help) f.help = s.help;
        const labels = [["module", module], ...s.labels]
          .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
        f.lines.push(`${name}{${labels}} ${formatValue(s.value)}`);
      }
    }
    let out = "";
    for (const name of [...families.keys()].sort()) {
      const f = families.get(name)!;
      out += `# HELP ${name} ${escapeHelp(f.help || "Reported by a module with ReportMetrics.")}\n`;
      out += `# TYPE ${name} ${f.kind === MetricKind.COUNTER ? "counter" : "gauge"}\n`;
      out += f.lines.join("\n") + "\n";
    }
    return out;
  }
}

/**
 * A small Prometheus client: counters, gauges and histograms with labels, rendered in
 * the text exposition format 0.0.4. No dependencies and no file reads.
 *
 * (npm prom-client 15.1.3 works under `deno run`, but its dependency `bintrees` makes
 * `deno compile` of the orchestrator abort with a stack overflow, so the few features
 * used here are implemented directly, with the same API shape.)
 */

/** Label values by label name. */
export type Labels = Record<string, string>;

/** The content type of the text format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the text format writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The options every metric takes. */
export interface MetricOptions<L extends string, M> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Registries to add the metric to. */
  registers?: Registry[];
  /** Called (with the metric as `this`) before each rendering, to set current values. */
  collect?: (this: M) => void | Promise<void>;
}

abstract class Metric<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    options: Omit<MetricOptions<L, never>, "collect">,
    readonly type: string,
  ) {
    if (!NAME.test(options.name)) throw new Error(`invalid metric name "${options.name}"`);
    for (const l of options.labelNames ?? []) {
      if (!LABEL.test(l) || l === "le") throw new Error(`invalid label name "${l}"`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    for (const r of options.registers ?? []) r.register(this);
  }

  /**
   * The key of a label set, checking its names: each label's value, length-prefixed, in
   * the order of `labelNames` ("-" for one not given).
   */
  protected key(labels: Partial<Record<L, string>> = {}): string {
    for (const name of Object.keys(labels)) {
      if (!this.labelNames.includes(name as L)) {
        throw new Error(`metric ${this.name} has no label "${name}"`);
      }
    }
    let key = "";
    for (const name of this.labelNames) {
      const v = (labels as Record<string, string | undefined>)[name];
      if (v === undefined) key += "-";
      else {
        const text = String(v);
        key += `${text.length}:${text}`;
      }
    }
    return key;
  }

  /** The labels of a new series: the given ones, in the order of `labelNames`. */
  protected labelsOf(labels: Partial<Record<L, string>> = {}): Labels {
    const out: Labels = {};
    for (const name of this.labelNames) {
      const v = (labels as Record<string, string | undefined>)[name];
      if (v !== undefined) out[name] = String(v);
    }
    return out;
  }

  /** Forgets every series. */
  reset(): void {
    this.series.clear();
  }

  /** Runs the collect callback. */
  abstract collect(): Promise<void>;

  /** The family in the text format (HELP, TYPE, samples). */
  abstract render(): string;

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }
}

/** Renders `name{labels}` with extra leading labels. */
function sampleName(name: string, labels: Labels, first?: [string, string]): string {
  const parts = first ? [`${first[0]}="${escapeValue(first[1])}"`] : [];
  for (const [k, v] of Object.entries(labels)) parts.push(`${k}="${escapeValue(v)}"`);
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}

/** A metric whose series each hold one number: gauges and counters. */
abstract class ValueMetric<L extends string, M> extends Metric<L> {
  readonly #collect?: (this: M) => void | Promise<void>;

  constructor(options: MetricOptions<L, M>, type: string) {
    super(options, type);
    this.#collect = options.collect;
  }

  async collect(): Promise<void> {
    await this.#collect?.call(this as unknown as M);
  }

  render(): string {
    let out = this.header();
    for (const s of this.series.values()) {
      out += `${sampleName(this.name, s.labels)} ${formatValue(s.value)}\n`;
    }
    return out;
  }
}

/** A value that goes up and down. */
export class Gauge<L extends string = string> extends ValueMetric<L, Gauge<L>> {
  constructor(options: MetricOptions<L, Gauge<L>>) {
    super(options, "gauge");
  }

  /** Sets the series of `labels` (or the unlabelled one) to `value`. */
  set(labelsOrValue: Partial<Record<L, string>> | number, value?: number): void {
    const [labels, v] = typeof labelsOrValue === "number"
      ? [{}, labelsOrValue]
      : [labelsOrValue, value ?? 0];
    const key = this.key(labels);
    const s = this.series.get(key);
    if (s) s.value = v;
    else this.series.set(key, { labels: this.labelsOf(labels), value: v });
  }
}

/** A value that only goes up. */
export class Counter<L extends string = string> extends ValueMetric<L, Counter<L>> {
  constructor(options: MetricOptions<L, Counter<L>>) {
    super(options, "counter");
  }

  /** Adds `value` (default 1) to the series of `labels` (or the unlabelled one). */
  inc(labelsOrValue?: Partial<Record<L, string>> | number, value?: number): void {
    const [labels, v] = typeof labelsOrValue === "number"
      ? [{}, labelsOrValue]
      : [labelsOrValue ?? {}, value ?? 1];
    if (!(v >= 0)) throw new Error(`counter ${this.name} cannot decrease`);
    const key = this.key(labels);
    const s = this.series.get(key);
    if (s) s.value += v;
    else this.series.set(key, { labels: this.labelsOf(labels), value: v });
  }
}

/** Options of a histogram. */
export interface HistogramOptions<L extends string> extends MetricOptions<L, Histogram<L>> {
  /** Upper bounds of the buckets, increasing (+Inf is added). */
  buckets: readonly number[];
}

/** Observations counted in buckets, with their sum and count. */
export class Histogram<L extends string = string> extends Metric<L> {
  readonly buckets: readonly number[];
  readonly #data = new Map<string, { labels: Labels; counts: number[]; sum: number; n: number }>();
  readonly #collect?: (this: Histogram<L>) => void | Promise<void>;

  constructor(options: HistogramOptions<L>) {
    super(options, "histogram");
    this.buckets = [...options.buckets].sort((a, b) => a - b);
    this.#collect = options.collect;
  }

  /** Forgets the series whose labels `drop` says, e.g. those of a thing that is gone. */
  removeWhere(drop: (labels: Labels) => boolean): void {
    for (const [key, d] of this.#data) if (drop(d.labels)) this.#data.delete(key);
  }

  /** Records one observation for `labels`. */
  observe(labels: Partial<Record<L, string>>, value: number): void {
    const key = this.key(labels);
    let d = this.#data.get(key);
    if (!d) {
      d = {
        labels: this.labelsOf(labels),
        counts: new Array(this.buckets.length).fill(0),
        sum: 0,
        n: 0,
      };
      this.#data.set(key, d);
    }
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]) {
        d.counts[i]++;
        break;
      }
    }
    d.sum += value;
    d.n++;
  }

  override reset(): void {
    this.#data.clear();
  }

  async collect(): Promise<void> {
    await this.#collect?.call(this);
  }

  render(): string {
    let out = this.header();
    for (const d of this.#data.values()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += d.counts[i];
        out += `${
          sampleName(`${this.name}_bucket`, d.labels, ["le", formatValue(b)])
        } ${cumulative}\n`;
      });
      out += `${sampleName(`${this.name}_bucket`, d.labels, ["le", "+Inf"])} ${d.n}\n`;
      out += `${sampleName(`${this.name}_sum`, d.labels)} ${formatValue(d.sum)}\n`;
      out += `${sampleName(`${this.name}_count`, d.labels)} ${d.n}\n`;
    }
    return out;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  readonly #metrics = new Map<string, Metric<string>>();
  readonly contentType = CONTENT_TYPE;

  /** Adds a metric; a second one of the same name is an error. */
  register(metric: Metric<string>): void {
    if (this.#metrics.has(metric.name)) {
      throw new Error(`a metric named ${metric.name} is already registered`);
    }
    this.#metrics.set(metric.name, metric);
  }

  /** Every metric in the text format, after running their collect callbacks. */
  async metrics(): Promise<string> {
    const parts: string[] = [];
    for (const m of this.#metrics.values()) {
      await m.collect();
      parts.push(m.render());
    }
    return parts.join("\n");
  }
}

/**
 * Benchmark results: the shape every benchmark returns, the table printed at the end,
 * the JSON written to bench-results/, and a hand-rolled SVG chart of the ratios.
 */

/** A target one figure must meet: `op value` on the figure itself or on its ratio. */
export interface Target {
  op: ">=" | "<=";
  value: number;
  /** "value" (default) or "ratio" (the figure divided by its baseline). */
  of?: "value" | "ratio";
}

/** One measured figure. */
export interface Metric {
  name: string;
  value: number | null;
  unit: string;
  /** What it is compared with, measured in the same run. */
  baseline?: string;
  baselineValue?: number | null;
  /** value / baselineValue. */
  ratio?: number | null;
  /** The targets as text, e.g. ">= 5000 req/s, ratio >= 0.7". */
  target?: string;
  /** Whether every target is met; undefined without targets. */
  met?: boolean;
  /** Why the figure is what it is, or what it includes. */
  note?: string;
}

/** What one benchmark returns. */
export interface BenchResult {
  name: string;
  title: string;
  status: "ok" | "not available yet" | "failed";
  /** Why it is not available or failed, or a remark. */
  note?: string;
  metrics: Metric[];
  seconds?: number;
  /** CPU cores busy on the machine just before the benchmark, with nothing of ours running. */
  backgroundCores?: number;
}

/** The whole run. */
export interface RunReport {
  date: string;
  mode: "quick" | "full";
  machine: Record<string, string | number>;
  seconds: number;
  results: BenchResult[];
}

/** Builds a metric; computes the ratio and whether the targets are met. */
export function metric(
  name: string,
  value: number | null,
  unit: string,
  options: {
    baseline?: string;
    baselineValue?: number | null;
    targets?: Target[];
    note?: string;
    digits?: number;
  } = {},
): Metric {
  const digits = options.digits ?? 2;
  const fix = (n: number | null | undefined) =>
    n === null || n === undefined || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) /
      10 ** digits;
  const m: Metric = { name, value: fix(value), unit };
  if (options.baseline !== undefined) {
    m.baseline = options.baseline;
    m.baselineValue = fix(options.baselineValue);
    m.ratio = value !== null && options.baselineValue
      ? Math.round((value / options.baselineValue) * 1000) / 1000
      : null;
  }
  if (options.targets?.length) {
    m.target = options.targets.map((t) =>
      t.of === "ratio" ? `ratio ${t.op} ${t.value}` : `${t.op} ${t.value} ${unit}`
    ).join(", ");
    m.met = options.targets.every((t) => {
      const v = t.of === "ratio" ? m.ratio : m.value;
      if (v === null || v === undefined) return false;
      return t.op === ">=" ? v >= t.value : v <= t.value;
    });
  }
  if (options.note) m.note = options.note;
  return m;
}

function fmt(n: number | null | undefined, unit = ""): string {
  if (n === null || n === undefined) return "-";
  const abs = Math.abs(n);
  const text = abs >= 1000
    ? Math.round(n).toLocaleString("en-US")
    : abs >= 100
    ? n.toFixed(0)
    : abs >= 10
    ? n.toFixed(1)
    : n.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

/** The results as a plain-text table. */
export function table(results: BenchResult[]): string {
  const rows: string[][] = [["benchmark", "figure", "value", "baseline", "ratio", "target", "met"]];
  for (const r of results) {
    if (r.status !== "ok" && r.metrics.length === 0) {
      rows.push([r.name, `(${r.status}${r.note ? `: ${r.note}` : ""})`, "", "", "", "", ""]);
      continue;
    }
    for (const m of r.metrics) {
      rows.push([
        r.name,
        m.name,
        fmt(m.value, m.unit),
        m.baseline ? `${fmt(m.baselineValue)} (${m.baseline})` : "",
        m.ratio === undefined ? "" : m.ratio === null ? "-" : m.ratio.toFixed(3),
        m.target ?? "",
        m.met === undefined ? "" : m.met ? "yes" : "NO",
      ]);
    }
    if (r.status !== "ok") {
      rows.push([r.name, `(${r.status}: ${r.note ?? ""})`, "", "", "", "", ""]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)]
    .join("\n");
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * An SVG chart: one bar per figure with a baseline, its ratio on a log scale around 1
 * (the baseline), coloured by whether its targets are met, with the absolute values as
 * labels; figures without a baseline are listed under the chart with their targets.
 */
export function svgChart(report: RunReport): string {
  const withRatio: { bench: string; m: Metric }[] = [];
  const plain: { bench: string; m: Metric }[] = [];
  for (const r of report.results) {
    for (const m of r.metrics) {
      if (m.ratio !== undefined && m.ratio !== null && m.ratio > 0) {
        withRatio.push({ bench: r.name, m });
      } else {
        plain.push({ bench: r.name, m });
      }
    }
  }
  const unavailable = report.results.filter((r) => r.status !== "ok");
  const W = 1250, left = 380, right = 330, rowH = 24, top = 70;
  const chartW = W - left - right;
  const minLog = Math.log10(0.01), maxLog = Math.log10(100);
  const x = (ratio: number) => {
    const l = Math.min(maxLog, Math.max(minLog, Math.log10(ratio)));
    return left + ((l - minLog) / (maxLog - minLog)) * chartW;
  };
  const colour = (m: Metric) => m.met === undefined ? "#6b7280" : m.met ? "#16a34a" : "#dc2626";
  const parts: string[] = [];
  let y = top;
  parts.push(
    `<text x="20" y="30" font-size="18" font-weight="bold">Call Assistant benchmarks (${
      esc(report.mode)
    } run, ${esc(report.date)})</text>`,
    `<text x="20" y="50" font-size="12" fill="#374151">${
      esc(
        `${report.machine.cpu} x${report.machine.nproc}, ${report.machine.memGiB} GiB, ` +
          `deno ${report.machine.deno}; ratio = figure / baseline from the same run (log scale)`,
      )
    }</text>`,
  );
  const chartTop = y;
  for (const { bench, m } of withRatio) {
    const x1 = x(1), x2 = x(m.ratio!);
    parts.push(
      `<text x="${left - 8}" y="${y + 16}" font-size="12" text-anchor="end">${
        esc(`${bench}: ${m.name}`)
      }</text>`,
      `<rect x="${Math.min(x1, x2)}" y="${y + 5}" width="${
        Math.max(1, Math.abs(x2 - x1))
      }" height="${rowH - 10}" fill="${colour(m)}" opacity="0.85"/>`,
      `<text x="${left + chartW + 8}" y="${y + 16}" font-size="11">${
        esc(
          `${m.ratio!.toFixed(2)}x  ${fmt(m.value, m.unit)} vs ${fmt(m.baselineValue)} ${
            m.baseline ?? ""
          }`,
        ).slice(0, 80)
      }</text>`,
    );
    y += rowH;
  }
  // Axis: ticks at 0.01 ... 100, the baseline at 1.
  for (const t of [0.01, 0.1, 0.5, 1, 2, 10, 100]) {
    const tx = x(t);
    parts.push(
      `<line x1="${tx}" y1="${chartTop}" x2="${tx}" y2="${y}" stroke="${
        t === 1 ? "#111827" : "#d1d5db"
      }" stroke-width="${t === 1 ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${y + 14}" font-size="10" text-anchor="middle">${t}x</text>`,
    );
  }
  y += 40;
  parts.push(
    `<text x="20" y="${y}" font-size="14" font-weight="bold">Absolute figures and targets</text>`,
  );
  y += 8;
  for (const { bench, m } of plain) {
    y += 18;
    const mark = m.met === undefined ? "" : m.met ? "  [met]" : "  [MISSED]";
    parts.push(
      `<text x="20" y="${y}" font-size="12" fill="${colour(m)}">${
        esc(
          `${bench}: ${m.name} = ${fmt(m.value, m.unit)}${
            m.target ? `  (target ${m.target})` : ""
          }${mark}`,
        )
      }</text>`,
    );
  }
  for (const r of unavailable) {
    y += 18;
    parts.push(
      `<text x="20" y="${y}" font-size="12" fill="#6b7280">${
        esc(`${r.name}: ${r.status}${r.note ? ` (${r.note})` : ""}`).slice(0, 170)
      }</text>`,
    );
  }
  const background = report.results.filter((r) => r.backgroundCores !== undefined)
    .map((r) => `${r.name} ${r.backgroundCores}`).join(", ");
  if (background) {
    y += 24;
    parts.push(
      `<text x="20" y="${y}" font-size="11" fill="#374151">${
        esc(
          `background load (cores busy before each benchmark, nothing of ours running): ${background}`,
        )
      }</text>`,
    );
  }
  y += 30;
  parts.push(
    `<text x="20" y="${y}" font-size="11" fill="#374151">green: every target of the figure ` +
      `met (absolute or ratio); red: one missed; grey: no target. Bars start at the ` +
      `baseline (1x).</text>`,
  );
  const H = y + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${
    parts.join("\n")
  }\n</svg>\n`;
}

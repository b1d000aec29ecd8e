/**
 * Lints the Grafana dashboard (`docs/grafana/call-assistant.json`) against the metrics the
 * orchestrator exports: every panel expression and template query must name at least one
 * metric, and every metric it names must be one `/metrics` declares (`# TYPE`; a
 * histogram's `_bucket`, `_sum` and `_count` included). Usage:
 * `deno run -A scripts/lint_dashboard.ts http://127.0.0.1:8080/metrics` (or a file of the
 * metrics text). `tests/metrics/grafana_dashboard_test.ts` runs it against a real
 * orchestrator, and has a real Prometheus evaluate every expression.
 */
import { fileURLToPath } from "node:url";

/** The dashboard file. */
export const DASHBOARD = fileURLToPath(
  new URL("../docs/grafana/call-assistant.json", import.meta.url),
);

/** One PromQL expression of the dashboard and where it is. */
export interface DashboardQuery {
  readonly where: string;
  readonly expr: string;
}

type Json = { [key: string]: unknown };

/** Every PromQL expression of a dashboard: panel targets (rows' too) and template queries. */
export function dashboardQueries(dashboard: Json): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (panels: unknown) => {
    for (const p of (panels as Json[] | undefined) ?? []) {
      for (const t of (p.targets as Json[] | undefined) ?? []) {
        if (typeof t.expr === "string") {
          out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
        }
      }
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  const templating = (dashboard.templating as { list?: Json[] } | undefined)?.list ?? [];
  for (const v of templating) {
    if (v.type !== "query") continue;
    const q = v.query as string | { query?: string };
    const text = typeof q === "string" ? q : q?.query;
    if (text) out.push({ where: `variable "${v.name}"`, expr: text });
  }
  return out;
}

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(metric, label)`) reads:
 * identifiers that are not functions, keywords, label names or template variables.
 */
export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\$\{?\w+\}?/g, "") // template variables ($__rate_interval, ${instance})
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // groupings
    .replace(/label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*\w+\s*\)/g, " $1 ");
  const names = new Set<string>();
  for (const m of text.matchAll(/([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    if (KEYWORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return [...names];
}

/** The metric names a `/metrics` text declares, with a histogram's series names. */
export function exportedNames(metricsText: string): Set<string> {
  const names = new Set<string>();
  for (const m of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === "histogram") ["_bucket", "_sum", "_count"].forEach((s) => names.add(m[1] + s));
    if (m[2] === "summary") ["_sum", "_count"].forEach((s) => names.add(m[1] + s));
  }
  return names;
}

/** The problems of a dashboard against the exported metrics; empty when it is good. */
export function lintDashboard(dashboard: Json, metricsText: string): string[] {
  const exported = exportedNames(metricsText);
  const problems: string[] = [];
  for (const { where, expr } of dashboardQueries(dashboard)) {
    const names = metricNames(expr);
    if (names.length === 0) problems.push(`${where}: names no metric: ${expr}`);
    for (const name of names) {
      if (!exported.has(name)) problems.push(`${where}: "${name}" is not exported: ${expr}`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const source = Deno.args[0];
  if (!source) {
    console.error("usage: lint_dashboard.ts <metrics URL or file>");
    Deno.exit(2);
  }
  const metrics = /^https?:/.test(source)
    ? await (await fetch(source)).text()
    : await Deno.readTextFile(source);
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD));
  const problems = lintDashboard(dashboard, metrics);
  for (const p of problems) console.error(p);
  console.log(
    problems.length
      ? `${problems.length} problems`
      : `${dashboardQueries(dashboard).length} queries, all on exported metrics`,
  );
  Deno.exit(problems.length ? 1 : 0);
}

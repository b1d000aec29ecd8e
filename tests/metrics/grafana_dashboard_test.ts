/**
 * The Grafana dashboard in `docs/grafana/` against the real orchestrator: every query
 * names only metrics `/metrics` exports (`scripts/lint_dashboard.ts`), and a real
 * Prometheus (Debian's, 2.42) scraping the orchestrator evaluates every query without an
 * error, with data whenever the metrics it reads have samples.
 */
import assert from "node:assert/strict";
import {
  DASHBOARD,
  dashboardQueries,
  lintDashboard,
  metricNames,
} from "../../scripts/lint_dashboard.ts";
import { ROOT, startOrchestrator } from "../helpers/test_orchestrator.ts";
import { freePort } from "../helpers/free_ports.ts";
import { spawn } from "../helpers/processes.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("grafana dashboard: the name check itself", () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{code=~"5.."}[$__rate_interval])))',
    ),
    ["a_bucket"],
  );
  assert.deepEqual(metricNames('time() - b_seconds{x="y"} or vector(0)'), ["b_seconds"]);
  assert.deepEqual(metricNames("label_values(c_info, instance)"), ["c_info"]);
  const metrics = "# TYPE h histogram\n# TYPE g gauge\ng 1\n";
  const dash = (expr: string) => ({ panels: [{ title: "p", targets: [{ refId: "A", expr }] }] });
  assert.deepEqual(lintDashboard(dash("rate(h_count[1m]) + g"), metrics), []);
  assert.match(lintDashboard(dash("rate(h_total[1m])"), metrics)[0], /"h_total" is not exported/);
  assert.match(lintDashboard(dash("vector(1)"), metrics)[0], /names no metric/);
});

Deno.test("grafana dashboard: every query reads exported metrics and runs on Prometheus", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD));
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 20, `${queries.length} queries`);
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await Deno.mkdir(`${modules}/ok`);
  await Deno.writeTextFile(
    `${modules}/ok/module.yaml`,
    `name: ok\ncommand: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/behave.ts"]\n`,
  );
  const orch = await startOrchestrator({ modules });
  const promDir = await Deno.makeTempDir({ prefix: "ca-test-prometheus-" });
  const promPort = await freePort();
  let prometheus: ReturnType<typeof spawn> | undefined;
  try {
    await waitFor(
      async () => {
        const res = await fetch(`${orch.url}/v1/modules/ok`);
        return (await res.json()).module?.state === "MODULE_STATE_READY";
      },
      30_000,
      "module ok READY",
    );
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    assert.deepEqual(lintDashboard(dashboard, metrics), []);
    const sampled = new Set(
      [...metrics.matchAll(/^([A-Za-z_:][\w:]*)[{ ]/gm)].map((m) => m[1]),
    );

    const target = new URL(orch.url).host;
    await Deno.writeTextFile(
      `${promDir}/prometheus.yml`,
      `global: {scrape_interval: 1s, evaluation_interval: 1s}\n` +
        `scrape_configs:\n  - job_name: call-assistant\n` +
        `    static_configs: [{targets: ["${target}"]}]\n`,
    );
    prometheus = spawn("prometheus", [
      `--config.file=${promDir}/prometheus.yml`,
      `--storage.tsdb.path=${promDir}/data`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    const api = `http://127.0.0.1:${promPort}/api/v1/query`;
    const query = async (q: string) => {
      const res = await fetch(`${api}?query=${encodeURIComponent(q)}`);
      return await res.json() as { status: string; error?: string; data?: { result: unknown[] } };
    };
    // Enough scrapes for rate() over the window below.
    await waitFor(
      async () => {
        const r = await query('count_over_time(up{job="call-assistant"}[1m]) >= 5').catch(() =>
          undefined
        );
        return (r?.data?.result.length ?? 0) > 0;
      },
      60_000,
      "five scrapes",
    );
    for (const { where, expr } of queries) {
      if (expr.startsWith("label_values(")) continue; // Grafana's, not PromQL
      const promql = expr.replaceAll("$instance", ".*").replaceAll("$__rate_interval", "30s")
        .replaceAll("$__range", "1m");
      const r = await query(promql);
      assert.equal(r.status, "success", `${where}: ${r.error} in ${promql}`);
      const names = metricNames(expr);
      if (names.every((n) => sampled.has(n))) {
        assert.ok(r.data!.result.length > 0, `${where}: no data from ${promql}`);
      }
    }
    const instances = await query("group by (instance) (callassistant_build_info)");
    assert.equal(instances.data?.result.length, 1, "the instance variable has a value");
  } finally {
    await prometheus?.stop();
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(promDir, { recursive: true });
  }
});

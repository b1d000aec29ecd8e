/** The small Prometheus client: label sets, series and the text it renders. */
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "../../src/metrics/prom.ts";

Deno.test("prom: label sets that only differ in how values split are separate series", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "c_total",
    help: "c",
    labelNames: ["a", "b"] as const,
    registers: [registry],
  });
  counter.inc({ a: "1:x", b: "y" });
  counter.inc({ a: "1", b: "x1:y" });
  counter.inc({ a: "1:x", b: "y" }, 2);
  counter.inc({ b: "y" });
  counter.inc({ a: "y" });
  assert.equal(
    await registry.metrics(),
    "# HELP c_total c\n# TYPE c_total counter\n" +
      'c_total{a="1:x",b="y"} 3\nc_total{a="1",b="x1:y"} 1\nc_total{b="y"} 1\nc_total{a="y"} 1\n',
  );
  assert.throws(() => counter.inc({ c: "z" } as never), /has no label "c"/);
});

Deno.test("prom: gauges replace a series' value in place; labels render in declared order", async () => {
  const registry = new Registry();
  const gauge = new Gauge({
    name: "g",
    help: "g",
    labelNames: ["a", "b"] as const,
    registers: [registry],
  });
  gauge.set({ b: "2", a: "1" }, 5);
  gauge.set({ a: "3" }, 1);
  gauge.set({ a: "1", b: "2" }, 7);
  assert.equal(
    await registry.metrics(),
    '# HELP g g\n# TYPE g gauge\ng{a="1",b="2"} 7\ng{a="3"} 1\n',
  );
});

Deno.test("prom: histogram observations land in the first bucket they fit", async () => {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "h",
    help: "h",
    labelNames: ["m"] as const,
    buckets: [1, 0.1],
    registers: [registry],
  });
  for (const v of [0.05, 0.1, 0.5, 2, NaN]) histogram.observe({ m: "x" }, v);
  assert.equal(
    await registry.metrics(),
    "# HELP h h\n# TYPE h histogram\n" +
      'h_bucket{le="0.1",m="x"} 2\nh_bucket{le="1",m="x"} 3\nh_bucket{le="+Inf",m="x"} 5\n' +
      'h_sum{m="x"} NaN\nh_count{m="x"} 5\n',
  );
});

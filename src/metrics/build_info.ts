/**
 * `callassistant_build_info`: the build as labels of a constant 1 (the Prometheus
 * convention, as `go_build_info` or `prometheus_build_info`), so dashboards can show the
 * version and join it to other series (`* on() group_left(version) callassistant_build_info`).
 */
import * as client from "./prom.ts";
import { VERSION } from "../version.ts";

/** The label values of the build info series. */
export function buildInfoLabels(): Record<
  "version" | "deno" | "v8" | "typescript" | "target",
  string
> {
  return {
    version: VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    target: Deno.build.target,
  };
}

/** Registers `callassistant_build_info{version,deno,v8,typescript,target} 1`. */
export function registerBuildInfo(registry: client.Registry): void {
  const labels = buildInfoLabels();
  new client.Gauge({
    name: "callassistant_build_info",
    help: "A constant 1 labelled with the orchestrator's version, its Deno, V8 and TypeScript " +
      "versions and the target it was built for.",
    labelNames: Object.keys(labels) as (keyof typeof labels)[],
    registers: [registry],
    collect() {
      this.set(labels, 1);
    },
  });
}

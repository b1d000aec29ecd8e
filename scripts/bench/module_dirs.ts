/** Generated module directories for the benchmarks: `bench_module.ts` in its modes. */
import { fileURLToPath } from "node:url";
import { DENO, run } from "../../tests/helpers/processes.ts";

/** This directory, with a trailing slash. */
export const BENCH_DIR = fileURLToPath(new URL("./", import.meta.url));

/** The SDK module every benchmark runs (modes picked by BENCH_MODE). */
export const BENCH_MODULE = `${BENCH_DIR}bench_module.ts`;

/** Options of a generated module. */
export interface ModuleSpec {
  name: string;
  /** BENCH_MODE of bench_module.ts (default "minimal"). */
  mode?: string;
  env?: Record<string, string>;
  /** More manifest YAML (e.g. a restart policy). */
  extra?: string;
  /** Run this program instead of bench_module.ts (argv after `deno run --allow-all`). */
  program?: string;
}

/** Writes `dir/<name>/module.yaml` for each spec. */
export async function writeModules(dir: string, specs: ModuleSpec[]): Promise<void> {
  for (const s of specs) {
    await Deno.mkdir(`${dir}/${s.name}`, { recursive: true });
    const env = { BENCH_MODE: s.mode ?? "minimal", ...s.env };
    const envYaml = Object.entries(env).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
    await Deno.writeTextFile(
      `${dir}/${s.name}/module.yaml`,
      `name: ${s.name}\nversion: "1.0.0"\n` +
        `command: ["deno", "run", "--allow-all", ${JSON.stringify(s.program ?? BENCH_MODULE)}]\n` +
        `env: { ${envYaml} }\n${s.extra ?? ""}`,
    );
  }
}

/** A fresh temporary modules directory with the given modules. */
export async function modulesDir(specs: ModuleSpec[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ca-bench-modules-" });
  await writeModules(dir, specs);
  return dir;
}

/** `count` minimal SDK modules named `prefix-0`... */
export function minimalModules(count: number, prefix = "m", extra = ""): ModuleSpec[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i}`, extra }));
}

/** Runs a program once so Deno has compiled and cached its module graph. */
export async function warmCache(...files: string[]): Promise<void> {
  await run(DENO, ["cache", ...files], { allowFail: true });
}

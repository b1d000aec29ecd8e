/**
 * Builds self-contained orchestrator binaries with `deno compile` into `dist/`:
 * `dist/call-assistant-<target>` for x86_64 and aarch64 Linux by default (Raspberry Pi OS
 * 64-bit is aarch64-unknown-linux-gnu). Protos, schemas and assets are in the module
 * graph, so the binary reads no source files at run time.
 *
 * `deno compile` downloads its base runtime (denort) for each target. Offline, point it at
 * a local copy: `DENORT_BIN_<TARGET>` (e.g. DENORT_BIN_AARCH64_UNKNOWN_LINUX_GNU) per
 * target, or `DENORT_BIN` for all. See the README for how to get or build denort.
 *
 * Usage: deno task compile [--target <triple>]... [--out <dir>]
 */
import { parseArgs } from "node:util";

/** Targets `deno compile` supports. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** The default targets: a PC or server, and a Raspberry Pi. */
export const DEFAULT_TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/** The environment variable naming a local denort for `target`. */
export function denortVariable(target: string): string {
  return `DENORT_BIN_${target.toUpperCase().replaceAll("-", "_")}`;
}

/** The `deno compile` argv for one target. */
export function compileArgs(target: string, outDir: string): string[] {
  const ext = target.includes("windows") ? ".exe" : "";
  return [
    "compile",
    "--allow-all",
    "--target",
    target,
    "--output",
    `${outDir}/call-assistant-${target}${ext}`,
    "main.ts",
  ];
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: { target: { type: "string", multiple: true }, out: { type: "string" } },
      strict: true,
    }));
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 2;
  }
  const targets = values.target ?? DEFAULT_TARGETS;
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length > 0) {
    console.error(`error: unknown target ${unknown.join(", ")} (targets: ${TARGETS.join(", ")})`);
    return 2;
  }
  const outDir = values.out ?? "dist";
  const root = new URL("..", import.meta.url).pathname;
  for (const target of targets) {
    const denort = Deno.env.get(denortVariable(target)) ?? Deno.env.get("DENORT_BIN");
    if (denort) {
      try {
        await Deno.stat(denort);
      } catch {
        console.error(`error: ${denortVariable(target)}/DENORT_BIN: no file at ${denort}`);
        return 2;
      }
    }
    console.log(`compile: ${target}${denort ? ` (denort: ${denort})` : ""}`);
    const env: Record<string, string> = denort ? { DENORT_BIN: denort } : {};
    const out = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(target, outDir),
      cwd: root,
      env,
    }).output();
    if (!out.success) {
      const stderr = new TextDecoder().decode(out.stderr).split("\n")
        .filter((l) => l.trim() && !/^\s+(\d+:|at )/.test(l)).slice(0, 6).join("\n");
      console.error(stderr);
      console.error(
        `error: deno compile failed for ${target}. Offline, set ${denortVariable(target)} ` +
          `(or DENORT_BIN) to a denort ${Deno.version.deno} binary for that target.`,
      );
      return 1;
    }
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());

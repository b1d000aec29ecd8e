/**
 * The external tools the benchmarks compare with or drive: wrk and supervisord (Debian),
 * pm2 (npm, installed outside the repository), installed when missing.
 */
import { run, which } from "../../tests/helpers/processes.ts";

/** Where npm tools are installed, outside the repository. */
export const TOOLS_DIR = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/callassistant-bench`;

let toolsChecked: Promise<void> | undefined;

/**
 * Makes sure wrk and supervisord (Debian) and pm2 (npm, into TOOLS_DIR) are present:
 * installs the missing ones (apt-get only as root).
 */
export function ensureTools(log: (line: string) => void): Promise<void> {
  toolsChecked ??= (async () => {
    const missingApt: string[] = [];
    if (!(await which("wrk"))) missingApt.push("wrk");
    if (!(await which("supervisord"))) missingApt.push("supervisor");
    if (missingApt.length > 0) {
      const root = (await run("id", ["-u"])).stdout.trim() === "0";
      if (!root) {
        throw new Error(
          `missing ${missingApt.join(", ")}: run "sudo apt-get install -y ${missingApt.join(" ")}"`,
        );
      }
      log(`installing ${missingApt.join(", ")} with apt-get`);
      const env = { ...Deno.env.toObject(), DEBIAN_FRONTEND: "noninteractive" };
      await run("apt-get", ["update", "-qq"], { env, allowFail: true });
      await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missingApt], {
        env,
      });
    }
    if (!(await exists(pm2Path()))) {
      log(`installing pm2 with npm into ${TOOLS_DIR}`);
      await Deno.mkdir(TOOLS_DIR, { recursive: true });
      await run("npm", [
        "install",
        "--prefix",
        TOOLS_DIR,
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "pm2@6",
      ]);
    }
  })();
  return toolsChecked;
}

/** The pm2 executable in TOOLS_DIR. */
export function pm2Path(): string {
  return `${TOOLS_DIR}/node_modules/.bin/pm2`;
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

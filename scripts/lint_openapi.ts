/**
 * Lints the gateway's OpenAPI document with Redocly's linter (`@redocly/cli lint`, pinned,
 * the recommended rules; `scripts/redocly.yaml` says which rule is off and why). Without
 * arguments it lints the document built from the protos, as `/openapi.json` serves it;
 * with a file, that file. Run by `deno task check`; `tests/gateway/openapi_lint_test.ts`
 * lints the one a running orchestrator serves.
 *
 * The linter runs from npm through Deno (`npm:`), from a temporary directory with
 * `--no-config --no-lock`: nothing lands in the repository (no node_modules, no lock
 * entries for the linter's own dependencies).
 */
import { fileURLToPath } from "node:url";
import { ConfigService, ControlService } from "@callassistant/protocol";
import { DESCRIPTOR_SET_BASE64 } from "@callassistant/protocol/descriptor-set";
import { openApiDocument } from "../src/gateway/openapi.ts";

/** The linter, pinned. */
export const REDOCLY_CLI = "npm:@redocly/cli@2.77.0";

const CONFIG = fileURLToPath(new URL("./redocly.yaml", import.meta.url));

/** Lints an OpenAPI document (as JSON text); returns the linter's exit code and output. */
export async function lintOpenApi(json: string): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ca-openapi-lint-" });
  try {
    await Deno.writeTextFile(`${dir}/openapi.json`, json);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--no-config",
        "--no-lock",
        REDOCLY_CLI,
        "lint",
        "--config",
        CONFIG,
        "--format",
        "stylish",
        "--max-problems",
        "1000",
        "openapi.json",
      ],
      cwd: dir,
      env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const json = Deno.args[0] ? await Deno.readTextFile(Deno.args[0]) : JSON.stringify(
    openApiDocument([ControlService, ConfigService], DESCRIPTOR_SET_BASE64),
  );
  const { code, output } = await lintOpenApi(json);
  console.log(output.trim());
  Deno.exit(code);
}

/**
 * The Python SDK's own unit tests (packages/sdk-python/tests, `python3 -m unittest`) with
 * Debian's Python: real grpc.aio servers and clients on loopback, real module processes.
 * Fails with their output when any fails.
 */
import assert from "node:assert/strict";
import { ROOT } from "../helpers/test_orchestrator.ts";

Deno.test("Python SDK: python3 -m unittest passes", async () => {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: ["-m", "unittest", "discover", "-s", "tests", "-t", "."],
    cwd: `${ROOT}packages/sdk-python`,
    // Not inherited: a module variable of the shell running the tests.
    env: {
      PYTHONDONTWRITEBYTECODE: "1",
      GRPC_PORT: "",
      MODULE_TOKEN: "",
      ORCHESTRATOR_ADDRESS: "",
    },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `python3 -m unittest failed (exit ${out.code}):\n${text}`);
  const ran = /Ran (\d+) tests?/.exec(text);
  assert.ok(ran && Number(ran[1]) >= 40, `expected the whole suite to run:\n${text}`);
});

/**
 * Module tokens against theft: the orchestrator hands each module its token on standard
 * input (and, deprecated for one release, in MODULE_TOKEN), and accepts a token only from a
 * connection one of that module's own processes holds. Another process of the same user
 * that reads the token from /proc/<pid>/environ (or learns the stdin one) is refused, and
 * cannot set the module's health; the module's own reports go through, a module that
 * still reads MODULE_TOKEN from its environment too, with a deprecation warning.
 */
import assert from "node:assert/strict";
import { EventService, HealthState } from "@callassistant/protocol";
import { Code, createClient, type RpcError } from "@callassistant/rpc";
import {
  addBehaving,
  listModules,
  startOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";

/** The MODULE_TOKEN of a process, as any process of the same user can read it. */
function environToken(pid: number): string {
  const environ = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
  return environ.find((e) => e.startsWith("MODULE_TOKEN="))?.slice("MODULE_TOKEN=".length) ?? "";
}

async function refused(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: RpcError) => {
    assert.equal(err.code, Code.PERMISSION_DENIED, `${Code[err.code]}: ${err.message}`);
    assert.match(err.message, /good only for the module itself/);
    return true;
  });
}

Deno.test("module tokens: a stolen token is refused; the module's own and legacy ones work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addBehaving(dir, "victim", "leak-token");
  await addBehaving(dir, "old-style", "legacy-token");
  const orch = await startOrchestrator({ modules: dir });
  const thief = createClient(EventService, orch.grpcAddress);
  try {
    const victim = await waitForState(orch.url, "victim", "READY");
    await waitForState(orch.url, "old-style", "READY");
    // Both modules' own reports are accepted.
    for (const module of ["victim", "old-style"]) {
      await orch.waitForLog((l) =>
        l.msg === "module event" && l.module === module && l.type === "fixture.hello"
      );
    }
    const stdinToken = await waitFor(
      async () => {
        const logs = await (await fetch(`${orch.url}/v1/modules/victim/logs?tail=50`)).text();
        return /token=([0-9a-f]+)/.exec(logs)?.[1];
      },
      10_000,
      "the victim's token",
    );
    const envToken = environToken(victim.pid);
    assert.match(envToken, /^[0-9a-f]{48}$/);
    assert.notEqual(envToken, stdinToken, "the environment holds a different, deprecated token");

    for (const token of [envToken, stdinToken]) {
      const headers = { authorization: `Bearer ${token}` };
      await refused(thief.reportStatus({ state: HealthState.UNHEALTHY, message: "pwned" }, {
        headers,
      }));
      await refused(thief.reportEvent({ type: "module.fake", message: "pwned" }, { headers }));
      const stream = thief.connect(
        (async function* () {
          yield { sequence: 1n, payload: { case: "heartbeat" as const, value: {} } };
        })(),
        { headers },
      );
      await refused((async () => {
        for await (const _ of stream) { /* acks would mean the thief got in */ }
      })());
    }
    const after = (await listModules(orch.url)).victim;
    assert.equal(after.state, "MODULE_STATE_READY", "the thief could not touch its health");
    assert.ok(!orch.logs.some((l) => JSON.stringify(l).includes("pwned")));

    // The module written before the handover: accepted, with one deprecation warning.
    const warnings = orch.logs.filter((l) =>
      String(l.msg).startsWith("module authenticated with MODULE_TOKEN from its environment")
    );
    assert.deepEqual(warnings.map((l) => l.module), ["old-style"]);
    assert.equal(warnings[0].level, "warn");
  } finally {
    thief.close();
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Health monitoring with real misbehaving modules: DEGRADED is shown without a restart;
 * garbage or missing HealthCheck answers past the threshold restart the module; a garbage
 * gRPC server fails the start with a clear reason.
 */
import assert from "node:assert/strict";
import {
  addBehaving,
  addModule,
  isAlive,
  listModules,
  startOrchestrator,
  waitForState,
} from "../helpers/test_orchestrator.ts";

const FAST_HEALTH =
  `health: { interval: 200ms, timeout: 300ms, failure_threshold: 2, start_grace: 0 }\n` +
  `restart: { backoff: { initial: 50ms, max: 100ms }, limit: 10 }\n`;

Deno.test("health: degraded shown, garbage and silence restart, garbage server fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addBehaving(dir, "degraded", "degraded", FAST_HEALTH);
  await addBehaving(dir, "garbage", "garbage-health-after:3", FAST_HEALTH);
  await addBehaving(dir, "garbage-at-start", "garbage-health-after:0", FAST_HEALTH);
  await addBehaving(dir, "silent", "hang-health-after:3", FAST_HEALTH);
  // Accepts TCP and answers with bytes that are not HTTP/2: never a gRPC server.
  await addModule(
    dir,
    "not-grpc",
    `command: ["/usr/bin/python3", "-c", "import os,socket\\ns=socket.socket()\\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\\ns.bind(('127.0.0.1',int(os.environ['GRPC_PORT'])))\\ns.listen()\\nwhile True:\\n c,_=s.accept()\\n c.sendall(b'garbage'*100)\\n c.close()"]\nstart_timeout: 3s\n`,
  );
  const orch = await startOrchestrator({ modules: dir });
  try {
    const degraded = await waitForState(orch.url, "degraded", "DEGRADED");
    assert.equal((degraded.health as { message: string }).message, "camera offline");

    // A garbage health state and a module that stops answering are restarted.
    const garbage = await waitForState(
      orch.url,
      "garbage",
      "READY",
      30_000,
      (m) => m.restarts >= 1,
    );
    assert.match(
      (garbage.history as { reason: string }[])[0].reason,
      /health check failed 2 times: unknown health state 99/,
    );
    const silent = await waitForState(orch.url, "silent", "READY", 30_000, (m) => m.restarts >= 1);
    const firstRun = (silent.history as { pid: number; reason: string }[])[0];
    assert.match(firstRun.reason, /health check failed 2 times: .*(deadline|Deadline)/);
    assert.ok(!isAlive(firstRun.pid), "the silent module's first process is gone");

    // Garbage from the first check fails the start: FAILED with the reason, no restarts.
    const atStart = await waitForState(orch.url, "garbage-at-start", "FAILED");
    assert.match(atStart.lastError, /health check failed: unknown health state 99/);

    const notGrpc = await waitForState(orch.url, "not-grpc", "FAILED");
    assert.match(notGrpc.lastError, /start failed|did not answer/);
    assert.equal(notGrpc.pid, 0);

    // DEGRADED is never restarted.
    const again = (await listModules(orch.url)).degraded;
    assert.equal(again.restarts, 0);
    assert.equal(again.pid, degraded.pid);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

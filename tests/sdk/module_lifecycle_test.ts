/**
 * How an SDK module process lives and dies: end of stdin, signals, the Shutdown RPC, and
 * a bad environment.
 */
import assert from "node:assert/strict";
import { ModuleService } from "@callassistant/protocol";
import { HealthState } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { startModule } from "./module_harness.ts";

Deno.test("lifecycle: closing stdin makes the module exit", async () => {
  const proc = await startModule();
  try {
    await proc.closeStdin();
    const status = await proc.waitForExit(10_000);
    assert.equal(status.code, 0, proc.output);
    assert.match(proc.output, /standard input reached end of file/);
    assert.doesNotMatch(proc.output, /took longer/);
  } finally {
    await proc.stop();
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`lifecycle: ${signal} makes the module exit 0`, async () => {
    const proc = await startModule();
    const client = createClient(ModuleService, `127.0.0.1:${proc.port}`);
    try {
      // A connected client must not hold the exit up.
      await client.healthCheck({}, { timeoutMs: 5000 });
      proc.child.kill(signal);
      const status = await proc.waitForExit(10_000);
      assert.equal(status.code, 0, proc.output);
      assert.equal(status.signal, null);
      assert.match(proc.output, new RegExp(`received ${signal}`));
      // Stopped gracefully, not by the stop watchdog.
      assert.doesNotMatch(proc.output, /took longer/);
    } finally {
      client.close();
      await proc.stop();
    }
  });
}

Deno.test("lifecycle: the Shutdown RPC answers, then the module exits 0", async () => {
  const proc = await startModule();
  const client = createClient(ModuleService, `127.0.0.1:${proc.port}`);
  try {
    await client.shutdown({ gracePeriod: { seconds: 5n }, reason: "test over" }, {
      timeoutMs: 5000,
    });
    const status = await proc.waitForExit(10_000);
    assert.equal(status.code, 0, proc.output);
    assert.match(proc.output, /stopping: Shutdown requested: test over/);
    assert.doesNotMatch(proc.output, /took longer/);
  } finally {
    client.close();
    await proc.stop();
  }
});

Deno.test("lifecycle: without GRPC_PORT the module exits 2 with a clear message", async () => {
  const proc = await startModule({ env: { GRPC_PORT: undefined }, waitListening: false });
  try {
    const status = await proc.waitForExit(15_000);
    assert.equal(status.code, 2, proc.output);
    assert.match(proc.output, /err: error: GRPC_PORT is not set/);
  } finally {
    await proc.stop();
  }
});

for (const bad of ["http", "0", "70000", "80a"]) {
  Deno.test(`lifecycle: GRPC_PORT=${bad} exits 2 naming the value`, async () => {
    const proc = await startModule({ env: { GRPC_PORT: bad }, waitListening: false });
    try {
      const status = await proc.waitForExit(15_000);
      assert.equal(status.code, 2, proc.output);
      assert.ok(proc.output.includes(`GRPC_PORT="${bad}" is not a port number`), proc.output);
    } finally {
      await proc.stop();
    }
  });
}

Deno.test("lifecycle: a port in use exits 1 naming the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  try {
    const proc = await startModule({ env: { GRPC_PORT: String(port) }, waitListening: false });
    try {
      const status = await proc.waitForExit(15_000);
      assert.equal(status.code, 1, proc.output);
      assert.ok(proc.output.includes(`cannot listen on 127.0.0.1:${port}`), proc.output);
    } finally {
      await proc.stop();
    }
  } finally {
    listener.close();
  }
});

Deno.test("lifecycle: stdin that is not a pipe (/dev/null) does not stop the module", async () => {
  const proc = await startModule({ stdin: "null" });
  const client = createClient(ModuleService, `127.0.0.1:${proc.port}`);
  try {
    // With /dev/null, a watcher would see end of file at once and stop the server.
    for (let i = 0; i < 20; i++) {
      const res = await client.healthCheck({}, { timeoutMs: 5000 });
      assert.equal(HealthState[res.state], "READY");
    }
    assert.equal(proc.exitStatus, undefined);
    assert.doesNotMatch(proc.output, /stopping/);
    proc.child.kill("SIGTERM");
    assert.equal((await proc.waitForExit(10_000)).code, 0);
  } finally {
    client.close();
    await proc.stop();
  }
});

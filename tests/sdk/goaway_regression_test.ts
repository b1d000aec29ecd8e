/**
 * REGRESSION: Deno >= 2.9.4 aborts a grpc-js server process inside nghttp2
 * (`find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL' failed`) when a
 * client that made many calls on one connection closes its channel (the GOAWAY it sends
 * trips the assertion). We pin Deno 2.9.3; this test fails if the crash comes back: the
 * module process must survive and keep serving new clients.
 */
import assert from "node:assert/strict";
import { ModuleService } from "@callassistant/protocol";
import { HealthState } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { startModule, withTimeout } from "./module_harness.ts";

const CALLS = 1000;

Deno.test("regression: 1,000 calls then a closed channel do not crash the module (nghttp2 GOAWAY)", async () => {
  const proc = await startModule();
  const address = `127.0.0.1:${proc.port}`;
  const first = createClient(ModuleService, address);
  let second: ReturnType<typeof createClient<typeof ModuleService>> | undefined;
  try {
    // Many streams on one HTTP/2 connection, a few in flight at a time.
    let done = 0;
    const worker = async () => {
      while (done < CALLS) {
        done++;
        const res = await first.healthCheck({}, { timeoutMs: 10_000 });
        assert.equal(res.state, HealthState.READY);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    assert.equal(done, CALLS);

    // The client closes its channel: the module's server receives a GOAWAY.
    first.close();

    // A new client on a new connection is still served, several times over.
    second = createClient(ModuleService, address);
    try {
      for (let i = 0; i < 10; i++) {
        const res = await second.healthCheck({}, { timeoutMs: 10_000 });
        assert.equal(res.state, HealthState.READY);
      }
      const registered = await second.registerModule({}, { timeoutMs: 10_000 });
      assert.equal(registered.info?.name, "test-camera");
    } catch (err) {
      const status = await withTimeout(proc.status, 5000, "the module's exit").catch(() =>
        undefined
      );
      throw new Error(
        `a new client was not served after the first closed its channel; the module ${
          status ? `died (code ${status.code}, signal ${status.signal})` : "still runs"
        } (the nghttp2 GOAWAY crash of Deno >= 2.9.4?):\n${proc.output}`,
        { cause: err },
      );
    }

    assert.equal(proc.exitStatus, undefined, `module exited:\n${proc.output}`);
    assert.doesNotMatch(proc.output, /nghttp2|Assertion|panicked/);
  } finally {
    first.close();
    second?.close();
    await proc.stop();
  }
  // The module was killed by the test, not by a crash.
  assert.equal((await proc.status).signal, "SIGKILL", proc.output);
});

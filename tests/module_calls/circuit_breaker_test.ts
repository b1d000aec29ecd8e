/** The per-module circuit breaker and read retries (SPEC 8), with a controlled clock. */
import assert from "node:assert/strict";
import {
  CircuitBreaker,
  CircuitOpenError,
  type CircuitState,
  guarded,
  retryRead,
} from "../../src/module_calls/circuit_breaker.ts";
import { Code, RpcError } from "@callassistant/rpc";

const fail = (code = Code.UNAVAILABLE) => () =>
  Promise.reject(new RpcError(code, "connection refused"));
const ok = () => Promise.resolve("ok");

function breaker() {
  let now = 0;
  const changes: CircuitState[] = [];
  const b = new CircuitBreaker("cam", { now: () => now, onChange: (s) => changes.push(s) });
  return { b, changes, advance: (ms: number) => now += ms };
}

Deno.test("circuit: opens after 5 failures in a row and fails fast with a clear message", async () => {
  const { b, changes } = breaker();
  for (let i = 0; i < 4; i++) await assert.rejects(b.run(fail()));
  assert.equal(b.state, "closed");
  await assert.rejects(b.run(fail()));
  assert.equal(b.state, "open");
  let called = false;
  await assert.rejects(
    b.run(() => {
      called = true;
      return ok();
    }),
    (err: RpcError) => {
      assert.ok(err instanceof CircuitOpenError);
      assert.equal(err.code, Code.UNAVAILABLE);
      assert.match(
        err.message,
        /circuit open for module "cam": 5 calls in a row failed \(last: UNAVAILABLE: connection refused\)/,
      );
      return true;
    },
  );
  assert.equal(called, false, "an open circuit does not call the module");
  assert.deepEqual(changes, ["open"]);
});

Deno.test("circuit: half-opens after the cooldown, closes after 2 successes, reopens on a failure", async () => {
  const { b, changes, advance } = breaker();
  for (let i = 0; i < 5; i++) await assert.rejects(b.run(fail()));
  advance(5_000);
  assert.equal(await b.run(ok), "ok");
  assert.equal(b.state, "half-open");
  await assert.rejects(b.run(fail(Code.DEADLINE_EXCEEDED)));
  assert.equal(b.state, "open", "a failure while half-open opens again at once");
  advance(5_000);
  await b.run(ok);
  await b.run(ok);
  assert.equal(b.state, "closed");
  assert.deepEqual(changes, ["open", "half-open", "open", "half-open", "closed"]);
});

Deno.test("circuit: answers like NOT_FOUND or INVALID_ARGUMENT are not failures", async () => {
  const { b } = breaker();
  for (let i = 0; i < 10; i++) await assert.rejects(b.run(fail(Code.NOT_FOUND)));
  for (let i = 0; i < 4; i++) await assert.rejects(b.run(fail()));
  await assert.rejects(b.run(fail(Code.INVALID_ARGUMENT)));
  await assert.rejects(b.run(fail()));
  assert.equal(b.state, "closed", "a working answer resets the count");
});

Deno.test("retryRead retries UNAVAILABLE with backoff, never other codes or an open circuit", async () => {
  let calls = 0;
  const flaky = () => ++calls < 3 ? fail()() : ok();
  assert.equal(await retryRead(flaky, 3, 1), "ok");
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(retryRead(() => (calls++, fail(Code.NOT_FOUND)()), 3, 1));
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    retryRead(() => (calls++, Promise.reject(new CircuitOpenError("open"))), 3, 1),
  );
  assert.equal(calls, 1);
});

Deno.test("guarded: every method goes through the breaker, reads are retried, writes are not", async () => {
  const { b } = breaker();
  const calls: string[] = [];
  const client = {
    getEntityStatus: () => (calls.push("read"), fail()()),
    createEntity: () => (calls.push("write"), fail()()),
    close: () => calls.push("close"),
  };
  const g = guarded(client, b, ["getEntityStatus"]);
  await assert.rejects(g.getEntityStatus());
  assert.deepEqual(calls, ["read", "read", "read"]);
  await assert.rejects(g.createEntity());
  assert.deepEqual(calls.slice(3), ["write"]);
  await assert.rejects(g.createEntity());
  assert.equal(b.state, "open", "5 failed calls in all opened the circuit");
  g.close();
  assert.equal(calls.at(-1), "close");
});

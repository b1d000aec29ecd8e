/**
 * The event bus alone: bounded history with increasing ids, replay after a cursor, gap
 * markers for what the history no longer holds, and a slow watcher that neither slows
 * the publisher nor holds more than the history.
 */
import assert from "node:assert/strict";
import { EventBus, type WatchItem } from "../../src/events/event_bus.ts";
import { Severity } from "@callassistant/protocol";
import { runWithTrace } from "@callassistant/rpc";

function publish(bus: EventBus, n: number, type = "test.tick") {
  for (let i = 0; i < n; i++) bus.publish({ type, message: `tick ${i}` });
}

async function read(it: AsyncGenerator<WatchItem>, n: number): Promise<WatchItem[]> {
  const out: WatchItem[] = [];
  while (out.length < n) {
    const next = await it.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

Deno.test("bus: bounded history with increasing ids; replay after a cursor", () => {
  const bus = new EventBus(5);
  publish(bus, 8);
  assert.equal(bus.size, 5);
  assert.equal(bus.oldestId(), 4n);
  assert.equal(bus.lastId(), 8n);
  assert.deepEqual(bus.since(0n).map((e) => e.id), [4n, 5n, 6n, 7n, 8n]);
  assert.deepEqual(bus.since(6n).map((e) => e.id), [7n, 8n]);
  assert.deepEqual(bus.since(8n), []);
  assert.deepEqual(bus.since(5n, 2).map((e) => e.id), [6n, 7n]);
  const e = bus.publish({ type: "x", message: "m".repeat(10_000) });
  assert.ok(e.message.length <= 4097, "long messages are cut");
  assert.equal(e.severity, Severity.INFO);
});

Deno.test("bus: a watcher replays, gets gap markers, then live events", async () => {
  const bus = new EventBus(10);
  publish(bus, 15); // ids 6..15 held
  const abort = new AbortController();
  const it = bus.watch({ afterId: 2n, signal: abort.signal });
  const first = await read(it, 11);
  assert.deepEqual(first[0].gap, {
    fromId: 3n,
    toId: 5n,
    reason: "the history no longer holds these events",
  });
  assert.deepEqual(first.slice(1).map((i) => i.event?.id), [
    6n,
    7n,
    8n,
    9n,
    10n,
    11n,
    12n,
    13n,
    14n,
    15n,
  ]);
  // Live, filtered.
  const filtered = bus.watch({
    filter: (e) => e.type === "keep",
    signal: abort.signal,
  });
  const pending = read(filtered, 1);
  bus.publish({ type: "drop", message: "" });
  bus.publish({ type: "keep", message: "" });
  assert.equal((await pending)[0].event?.type, "keep");
  // A slow watcher that falls behind the history gets a gap marker, then the rest.
  const slow = read(it, 1);
  assert.equal((await slow)[0].event?.id, 16n);
  publish(bus, 25); // 18..42; the history holds 33..42
  const lagging = await read(it, 11);
  assert.deepEqual(lagging[0].event?.id, 17n);
  assert.equal(lagging[1].gap?.fromId, 18n);
  assert.equal(lagging[1].gap?.toId, 32n);
  assert.match(lagging[1].gap?.reason ?? "", /fell behind/);
  assert.deepEqual(lagging.slice(2).map((i) => i.event?.id), [
    33n,
    34n,
    35n,
    36n,
    37n,
    38n,
    39n,
    40n,
    41n,
  ]);
  assert.equal(bus.watchers, 2);
  abort.abort();
  await it.return(undefined);
  await filtered.return(undefined);
  assert.equal(bus.watchers, 0);
});

Deno.test("bus: a cursor from an earlier run replays the history with a marker", async () => {
  const bus = new EventBus(10);
  publish(bus, 3);
  const abort = new AbortController();
  const it = bus.watch({ afterId: 500n, signal: abort.signal });
  const items = await read(it, 4);
  assert.match(items[0].gap?.reason ?? "", /newer than the newest event \(3\)/);
  assert.deepEqual(items.slice(1).map((i) => i.event?.id), [1n, 2n, 3n]);
  abort.abort();
  await it.return(undefined);
});

Deno.test("bus: events take the trace of the call being handled, and only while it runs", async () => {
  const bus = new EventBus(10);
  const trace = {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    flags: 1,
  };
  let later: (() => void) | undefined;
  await runWithTrace(trace, async () => {
    bus.publish({ type: "in.call", message: "" });
    await Promise.resolve();
    bus.publish({ type: "in.call.after.await", message: "" });
    bus.publish({ type: "explicit.none", message: "", traceId: "" });
    later = () => bus.publish({ type: "after.answer", message: "" });
  });
  await new Promise<void>((resolve) =>
    setTimeout(() => {
      later!();
      resolve();
    }, 0)
  );
  const byType = Object.fromEntries(bus.since(0n).map((e) => [e.type, e.traceId]));
  assert.deepEqual(byType, {
    "in.call": trace.traceId,
    "in.call.after.await": trace.traceId,
    "explicit.none": "",
    "after.answer": "",
  });
});

Deno.test("bus: afterId 0 replays the whole history, unset only new events", async () => {
  const bus = new EventBus(100);
  for (let i = 0; i < 3; i++) bus.publish({ type: "t", message: `m${i}` });
  const abort = new AbortController();
  const all = bus.watch({ afterId: 0n, signal: abort.signal });
  const ids: bigint[] = [];
  for (let i = 0; i < 3; i++) ids.push((await all.next()).value!.event!.id);
  assert.deepEqual(ids, [1n, 2n, 3n]);
  const fresh = bus.watch({ signal: abort.signal });
  const next = fresh.next();
  bus.publish({ type: "t", message: "m3" });
  const first = (await next).value!.event!;
  assert.equal(first.id, 4n, "a watcher without afterId sees only new events");
  abort.abort();
});

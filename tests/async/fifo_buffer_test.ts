/** Fifo: first in, first out, through compaction, and the AsyncQueue built on it. */
import assert from "node:assert/strict";
import { Fifo } from "@callassistant/rpc";
import { AsyncQueue } from "../../src/async/async_queue.ts";

Deno.test("fifo: order, peek, size and iteration survive compaction", () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  for (let i = 0; i < 5000; i++) q.push(i);
  for (let i = 0; i < 3000; i++) assert.equal(q.shift(), i); // compacts past 2500 read
  assert.equal(q.size, 2000);
  assert.equal(q.peek(), 3000);
  q.push(5000);
  assert.deepEqual([...q].slice(0, 2), [3000, 3001]);
  assert.equal([...q].at(-1), 5000);
  let expected = 3000;
  for (let v = q.shift(); v !== undefined; v = q.shift()) assert.equal(v, expected++);
  assert.equal(expected, 5001);
  assert.equal(q.size, 0);
});

Deno.test("async queue: items in order, then the close error", async () => {
  const q = new AsyncQueue<number>();
  for (let i = 0; i < 3; i++) q.push(i);
  q.close();
  assert.equal(q.push(9), false);
  const seen: number[] = [];
  for await (const v of q) seen.push(v);
  assert.deepEqual(seen, [0, 1, 2]);
  const failing = new AsyncQueue<number>();
  failing.push(1);
  failing.close(new Error("gone"));
  await assert.rejects(async () => {
    for await (const _ of failing) { /* the error drops queued items */ }
  }, /gone/);
});

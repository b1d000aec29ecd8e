/** TokenBucket: a full burst, a steady refill, never more than the burst. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { TokenBucket } from "../../src/async/token_bucket.ts";

Deno.test("token bucket: a full burst, then refills at the rate and never above the burst", () => {
  let now = 0;
  const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, () => now);
  assertEquals([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [
    true,
    true,
    true,
    false,
  ]);
  now = 499; // 0.998 tokens: not yet one
  assertEquals(bucket.take(), false);
  now = 500;
  assertEquals(bucket.take(), true);
  assertEquals(bucket.take(), false);
  now = 60_000; // a long pause refills only up to the burst
  assertEquals([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [
    true,
    true,
    true,
    false,
  ]);
});

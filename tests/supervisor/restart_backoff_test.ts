/**
 * The restart rules with a fake clock and fake randomness: exponential backoff, jitter,
 * crash-loop parking within the window, remote modules never parked, the reset after a
 * stable uptime and after a start by hand. (The process tests in supervisor/lifecycle_test.ts check
 * the same rules end to end.)
 */
import assert from "node:assert/strict";
import { RestartBackoff, type RestartRules } from "../../src/supervisor/restart_backoff.ts";

const RULES: RestartRules = {
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
  limit: 5,
  windowMs: 60_000,
  stableAfterMs: 30_000,
};

/** A clock that only moves when told, and a fixed "random" number. */
function fakeClock(random = 1 - Number.EPSILON) {
  const clock = { t: 1_000_000, r: random, now: () => clock.t, random: () => clock.r };
  return clock;
}

/** The delays of `n` restarts in a row, `gapMs` apart. */
function delays(backoff: RestartBackoff, clock: { t: number }, n: number, gapMs = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = backoff.next(RULES, 0, true);
    assert.equal(next.kind, "restart");
    out.push(next.kind === "restart" ? next.delayMs : -1);
    clock.t += gapMs;
  }
  return out;
}

Deno.test("backoff doubles from backoffInitialMs and stops at backoffMaxMs", () => {
  const clock = fakeClock();
  const backoff = new RestartBackoff(clock);
  // One restart a minute never reaches the crash-loop limit.
  assert.deepEqual(
    delays(backoff, clock, 9, 60_000),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
});

Deno.test("jitter: the delay is between half the base and the base", () => {
  for (const [random, expected] of [[0, 250], [0.5, 375], [0.999, 500]] as const) {
    const backoff = new RestartBackoff(fakeClock(random));
    const next = backoff.next(RULES, 0, true);
    assert.deepEqual(next, { kind: "restart", delayMs: expected });
  }
  const clock = fakeClock(0);
  assert.deepEqual(delays(new RestartBackoff(clock), clock, 3, 60_000), [250, 500, 1000]);
});

Deno.test("crash loop: `limit` restarts within the window park the module", () => {
  const clock = fakeClock();
  const backoff = new RestartBackoff(clock);
  delays(backoff, clock, 5, 1_000); // five restarts within 5 s
  assert.deepEqual(backoff.next(RULES, 0, true), { kind: "park", restarts: 5, windowMs: 60_000 });
});

Deno.test("crash loop: restarts older than the window no longer count", () => {
  const clock = fakeClock();
  const backoff = new RestartBackoff(clock);
  delays(backoff, clock, 5, 1_000); // at t0 to t0 + 4 s: the limit
  clock.t += 55_500; // t0 + 60.5 s: the first is out of the window, four are in
  const next = backoff.next(RULES, 0, true);
  assert.equal(next.kind, "restart");
  assert.equal(backoff.next(RULES, 0, true).kind, "park"); // five within the window again
});

Deno.test("crash loop: a remote module is never parked", () => {
  const clock = fakeClock();
  const backoff = new RestartBackoff(clock);
  for (let i = 0; i < 20; i++) assert.equal(backoff.next(RULES, 0, false).kind, "restart");
});

Deno.test("stable uptime resets the backoff; a shorter run does not", () => {
  const clock = fakeClock();
  const backoff = new RestartBackoff(clock);
  delays(backoff, clock, 4, 60_000); // next base would be 8000
  const readyAt = clock.t;
  clock.t += 29_999; // READY for just under stableAfterMs
  assert.deepEqual(backoff.next(RULES, readyAt, true), { kind: "restart", delayMs: 8000 });
  const readyAgain = clock.t;
  clock.t += 30_000; // READY for stableAfterMs
  assert.deepEqual(backoff.next(RULES, readyAgain, true), { kind: "restart", delayMs: 500 });
});

Deno.test("a start by hand (reset) forgets the crash loop and the backoff", () => {
  const clock = fakeClock();
  const backoff = new RestartBackoff(clock);
  delays(backoff, clock, 5);
  assert.equal(backoff.next(RULES, 0, true).kind, "park");
  backoff.reset();
  assert.deepEqual(backoff.next(RULES, 0, true), { kind: "restart", delayMs: 500 });
});

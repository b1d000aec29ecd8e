/** ModuleLog: the tail is bounded by lines and bytes, followers skip with a marker, echo limits. */
import assert from "node:assert/strict";
import { Logger } from "../../src/log/logger.ts";
import { type LogLine, ModuleLog, skippedMarker } from "../../src/log/module_logs.ts";
import { waitFor } from "../helpers/test_orchestrator.ts";

function push(log: ModuleLog, line: string, stream: "stdout" | "stderr" = "stdout"): LogLine {
  return log.push({ time: new Date(), module: "m", pid: 42, restart: 1, stream, line });
}

Deno.test("ModuleLog keeps the last `capacity` lines with increasing sequences", () => {
  const log = new ModuleLog({ capacity: 5 });
  for (let i = 1; i <= 12; i++) push(log, `line ${i}`, i % 2 ? "stdout" : "stderr");
  assert.equal(log.size.lines, 5);
  assert.deepEqual(log.tail(100).map((l) => l.sequence), [8, 9, 10, 11, 12]);
  assert.deepEqual(log.tail(2).map((l) => l.line), ["line 11", "line 12"]);
  assert.deepEqual(log.tail(0), []);
  assert.deepEqual(log.tailOf("stderr", 2), ["line 10", "line 12"]);
  assert.equal(log.lastSequence, 12);
});

Deno.test("ModuleLog bounds the tail by bytes too", () => {
  const log = new ModuleLog({ capacity: 1000, maxBytes: 10_000 });
  const big = "x".repeat(1000); // about 2 KB each in memory
  for (let i = 0; i < 100; i++) push(log, big);
  assert.ok(log.size.bytes <= 10_000, `${log.size.bytes} bytes`);
  assert.ok(log.size.lines >= 4 && log.size.lines <= 5, `${log.size.lines} lines`);
  assert.equal(log.tail(1)[0].sequence, 100);
  // One line bigger than the byte limit is still kept (alone).
  push(log, "y".repeat(20_000));
  assert.equal(log.size.lines, 1);
});

Deno.test("a follower gets the tail, then new lines, and ends on abort", async () => {
  const log = new ModuleLog({ capacity: 10 });
  for (let i = 1; i <= 3; i++) push(log, `old ${i}`);
  const abort = new AbortController();
  const it = log.read(2, true, abort.signal)[Symbol.asyncIterator]();
  assert.equal((await it.next()).value.line, "old 2");
  assert.equal((await it.next()).value.line, "old 3");
  const next = it.next();
  push(log, "new 1");
  assert.equal((await next).value.line, "new 1");
  const pending = it.next();
  abort.abort();
  assert.equal((await pending).done, true);
  // Without follow, the tail only.
  const lines: string[] = [];
  for await (const l of log.read(10, false, new AbortController().signal)) lines.push(l.line);
  assert.deepEqual(lines, ["old 1", "old 2", "old 3", "new 1"]);
});

Deno.test("a follower that falls behind skips to the newest lines with a marker", async () => {
  const log = new ModuleLog({ capacity: 5 });
  const abort = new AbortController();
  const it = log.read(0, true, abort.signal)[Symbol.asyncIterator]();
  const first = it.next(); // The follower is registered once the generator runs.
  for (let i = 1; i <= 20; i++) push(log, `line ${i}`);
  const marker = (await first).value as LogLine;
  assert.equal(marker.line, skippedMarker(15));
  assert.match(marker.line, /15 lines skipped/);
  assert.equal(marker.sequence, 15, "the marker stands for the last skipped line");
  const rest: LogLine[] = [];
  for (let i = 0; i < 5; i++) rest.push((await it.next()).value);
  assert.deepEqual(rest.map((l) => l.sequence), [16, 17, 18, 19, 20]);
  // Falling behind again by bytes: big lines are skipped past the byte limit.
  const small = new ModuleLog({ capacity: 1000, maxBytes: 10_000 });
  const it2 = small.read(0, true, abort.signal)[Symbol.asyncIterator]();
  const first2 = it2.next();
  for (let i = 1; i <= 50; i++) push(small, "z".repeat(1000));
  assert.match(((await first2).value as LogLine).line, /^…\[4\d lines skipped/);
  abort.abort();
  await it.return?.();
  await it2.return?.();
});

Deno.test("echo is rate-limited per module and summarizes what it suppressed", async () => {
  const out: Record<string, unknown>[] = [];
  const logger = new Logger({
    level: "info",
    format: "json",
    sinks: [(line) => out.push(JSON.parse(line))],
  });
  const log = new ModuleLog({ echoPerSecond: 1, echoBurst: 5 });
  for (let i = 1; i <= 50; i++) log.echo(logger, push(log, `line ${i}`, "stderr"));
  assert.equal(log.size.lines, 50, "the tail gets every line");
  const echoed = out.filter((l) => l.stream === "stderr");
  assert.equal(echoed.length, 5);
  assert.deepEqual(echoed[0], {
    ...echoed[0],
    msg: "line 1",
    module: "m",
    pid: 42,
    restart: 1,
    stream: "stderr",
    level: "info",
  });
  const summary = await waitFor(
    () => out.find((l) => l.suppressed !== undefined),
    5_000,
    "the suppressed-lines summary",
  );
  assert.equal(summary.msg, "module m: 45 lines suppressed");
  assert.equal(summary.level, "warn");
  assert.equal(summary.module, "m");
});

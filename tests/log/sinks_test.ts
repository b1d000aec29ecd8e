/**
 * The log sinks: a bounded queue that drops and reports instead of growing, a stuck
 * writer never blocks logging, the file gets JSON lines and rotates by size keeping N.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../src/log/logger.ts";
import { parseByteSize, RotatingFileSink, WriterSink } from "../../src/log/sinks.ts";

/** A writer whose writes wait until `release()`; records what was written. */
function stuckWriter() {
  const chunks: Uint8Array[] = [];
  let release!: () => void;
  let released = new Promise<void>((r) => release = r);
  let writes = 0;
  return {
    chunks,
    get writes() {
      return writes;
    },
    text: () => chunks.map((c) => new TextDecoder().decode(c)).join(""),
    release: () => release(),
    /** Makes later writes wait again. */
    stick: () => released = new Promise<void>((r) => release = r),
    async write(p: Uint8Array): Promise<number> {
      writes++;
      await released;
      chunks.push(p.slice());
      return p.length;
    },
  };
}

Deno.test("a full queue drops lines, counts them, and says so once it catches up", async () => {
  const w = stuckWriter();
  const sink = new WriterSink(w, { maxQueueBytes: 1000 });
  for (let i = 0; i < 500; i++) sink.write(`line ${String(i).padStart(3, "0")} ${"x".repeat(40)}`);
  // The first line is in flight; the queue holds at most 1000 bytes; the rest is dropped.
  assert.ok(sink.pendingBytes <= 1000, `${sink.pendingBytes} bytes queued`);
  assert.ok(sink.dropped > 400, `${sink.dropped} dropped`);
  const dropped = sink.dropped;
  w.release();
  await sink.flush();
  const lines = w.text().trimEnd().split("\n");
  assert.equal(lines[0], `line 000 ${"x".repeat(40)}`);
  assert.equal(lines.at(-1), `${dropped} log lines dropped`);
  assert.equal(lines.length, 500 - dropped + 1);
  assert.equal(sink.written, lines.length);
  // Once caught up, nothing is dropped and no more notices come.
  sink.write("after");
  await sink.flush();
  assert.equal(w.text().trimEnd().split("\n").at(-1), "after");
  await sink.close();
});

Deno.test("logging never waits on a stuck stderr and memory stays bounded", async () => {
  const w = stuckWriter();
  const logger = createLogger("json", "info", { stderr: w, maxQueueBytes: 64 * 1024 });
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) logger.info("flood", { i, pad: "p".repeat(100) });
  const ms = performance.now() - started;
  // Only the first batch reached the writer; the loop finished while it was stuck.
  assert.equal(w.writes, 1);
  assert.equal(w.chunks.length, 0);
  w.release();
  await logger.flush();
  const lines = w.text().trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.length < 1000, `${lines.length} lines written of 100000 (${ms.toFixed(0)} ms)`);
  const notice = lines.at(-1);
  assert.equal(notice.level, "warn");
  assert.match(notice.msg, /^\d+ log lines dropped$/);
  assert.equal(notice.dropped + lines.length - 1, 100_000);
  await logger.close();
});

Deno.test("the file sink gets JSON lines whatever the stderr format", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-log-test-" });
  try {
    const w = stuckWriter();
    w.release();
    const logger = createLogger("text", "info", {
      stderr: w,
      file: { path: `${dir}/logs/orchestrator.log` },
    });
    logger.child({ module: "cam" }).info("hello world", { pid: 7, restart: 0, stream: "stdout" });
    logger.debug("not at info");
    await logger.close();
    assert.match(w.text(), /^\S+Z INFO {2}hello world module=cam pid=7 restart=0 stream=stdout\n$/);
    const file = (await Deno.readTextFile(`${dir}/logs/orchestrator.log`)).trimEnd().split("\n");
    assert.equal(file.length, 1);
    const rec = JSON.parse(file[0]);
    assert.deepEqual(rec, {
      time: rec.time,
      level: "info",
      msg: "hello world",
      module: "cam",
      pid: 7,
      restart: 0,
      stream: "stdout",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the file rotates at the size limit and keeps only N files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-log-test-" });
  const path = `${dir}/orchestrator.log`;
  try {
    const sink = new RotatingFileSink({ path, maxBytes: 1000, files: 3 });
    // 100 lines of 100 bytes (with the newline): 10 full files' worth.
    for (let i = 0; i < 100; i++) sink.write(`${String(i).padStart(4, "0")} ${"x".repeat(94)}`);
    await sink.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      "orchestrator.log",
      "orchestrator.log.1",
      "orchestrator.log.2",
      "orchestrator.log.3",
    ]);
    const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
    for (const name of names) assert.ok(read(name).length <= 1000, `${name} within the limit`);
    // Oldest to newest, the kept lines are the last ones, in order, none split.
    const kept = [".3", ".2", ".1", ""].flatMap((s) =>
      read(`orchestrator.log${s}`).trimEnd().split("\n")
    );
    assert.equal(kept.length, 40);
    assert.deepEqual(
      kept.map((l) => Number(l.slice(0, 4))),
      [...Array(40).keys()].map((i) => i + 60),
    );
    assert.ok(kept.every((l) => l.length === 99));

    // A new sink appends to the existing file and counts its size: that one is full.
    const again = new RotatingFileSink({ path, maxBytes: 1000, files: 3 });
    again.write("y".repeat(99));
    await again.close();
    assert.equal(read("orchestrator.log"), "y".repeat(99) + "\n");
    assert.equal(read("orchestrator.log.1").slice(0, 4), "0090");
    const more = new RotatingFileSink({ path, maxBytes: 1000, files: 3 });
    more.write("z".repeat(99));
    // A line longer than the limit gets a file of its own.
    more.write("w".repeat(2000));
    more.write("after");
    await more.close();
    assert.equal(read("orchestrator.log"), "after\n");
    assert.equal(read("orchestrator.log.1"), "w".repeat(2000) + "\n");
    assert.equal(read("orchestrator.log.2"), "y".repeat(99) + "\n" + "z".repeat(99) + "\n");
    assert.equal(read("orchestrator.log.3").slice(0, 4), "0090");
    assert.equal([...Deno.readDirSync(dir)].length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a removed log directory is made again; an unwritable file drops, never throws", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-log-test-" });
  try {
    const sink = new RotatingFileSink({ path: `${dir}/sub/orchestrator.log` });
    await Deno.remove(`${dir}/sub`, { recursive: true });
    sink.write("kept");
    await sink.close();
    assert.equal(await Deno.readTextFile(`${dir}/sub/orchestrator.log`), "kept\n");
    // The log path is a directory: nothing can be written; lines are counted as dropped.
    await Deno.mkdir(`${dir}/taken/orchestrator.log`, { recursive: true });
    const bad = new RotatingFileSink({ path: `${dir}/taken/orchestrator.log` });
    bad.write("lost");
    bad.write("lost too");
    await bad.flush();
    assert.equal(bad.dropped, 2);
    assert.equal(bad.written, 0);
    await bad.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseByteSize reads bytes and K, M, G (powers of 1024)", () => {
  assert.equal(parseByteSize("1024"), 1024);
  assert.equal(parseByteSize("512K"), 512 * 1024);
  assert.equal(parseByteSize("10M"), 10 * 1024 * 1024);
  assert.equal(parseByteSize("10MiB"), 10 * 1024 * 1024);
  assert.equal(parseByteSize("10mb"), 10 * 1024 * 1024);
  assert.equal(parseByteSize("1g"), 1024 ** 3);
  assert.equal(parseByteSize("100b"), 100);
  for (const bad of ["", "0", "-1", "10X", "1.5M", "M"]) {
    assert.equal(parseByteSize(bad), undefined);
  }
});

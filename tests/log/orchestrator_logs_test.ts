/**
 * Logs end to end with the real orchestrator: modules flooding their output neither grow
 * its memory nor slow its API; GetModuleLogs serves the tail (NDJSON) and follows (SSE);
 * the rotated log file in the data directory holds JSON lines with the module lines.
 */
import assert from "node:assert/strict";
import { CUT_MARKER } from "../../src/log/lines.ts";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

const FIXTURE = `${ROOT}tests/fixtures/log-flood/main.ts`;

type Entry = {
  time: string;
  module: string;
  pid: number;
  restart: number;
  stream: string;
  line: string;
  level: string;
  sequence: string;
};

/** Writes a module.yaml running the log fixture as `name` with `env`. */
async function addLogModule(dir: string, name: string, env: Record<string, string> = {}) {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  const envYaml = Object.entries(env).map(([k, v]) => `  ${k}: "${v}"\n`).join("");
  await Deno.writeTextFile(
    `${dir}/${name}/module.yaml`,
    `name: ${name}\nversion: "0.1.0"\ncommand: ["deno", "run", "--allow-all", "${FIXTURE}"]\n` +
      (envYaml ? `env:\n${envYaml}` : ""),
  );
}

/** GET with a generous bound: the API must answer within 5 s, flood or not (CI machines are busy). */
async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
}

async function tail(url: string, module: string, n: number): Promise<Entry[]> {
  const res = await get(`${url}/v1/modules/${module}/logs?tail=${n}`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return text.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l).entry);
}

async function moduleOf(url: string, name: string): Promise<Record<string, unknown>> {
  const res = await get(`${url}/v1/modules/${name}`);
  assert.equal(res.status, 200);
  return (await res.json()).module;
}

/** Resident memory of a process in MB. */
function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

Deno.test("modules flooding their output neither grow memory nor slow the API", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addLogModule(dir, "flood", { FLOOD: "lines", FLOOD_MS: "4000" });
  await addLogModule(dir, "longline", { FLOOD: "long", FLOOD_MS: "1500" });
  const orch = await startOrchestrator({
    modules: dir,
    data,
    args: ["--log-file-size", "64K", "--log-files", "2"],
  });
  try {
    const samples: { rss: number; ms: number }[] = [];
    const started = Date.now();
    // Every poll: the API answers (within 5 s each) while the modules flood.
    const done = await waitFor(
      async () => {
        const t = performance.now();
        const health = await get(`${orch.url}/healthz`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
        const list = await get(`${orch.url}/v1/modules`);
        assert.equal(list.status, 200);
        assert.equal((await list.json()).modules.length, 2);
        samples.push({ rss: rssMb(orch.pid), ms: performance.now() - t });
        const [last] = await tail(orch.url, "flood", 1);
        return last?.line.startsWith("flood done") ? last : undefined;
      },
      60_000,
      "the flood to end",
    );
    const seconds = (Date.now() - started) / 1000;
    const written = Number(/flood done (\d+) lines/.exec(done.line)![1]);
    assert.ok(written > 10_000, `the module flooded (${written} lines)`);
    assert.ok(Number(done.sequence) > written, "the tail numbered every line");
    assert.equal(done.stream, "LOG_STREAM_STDOUT");

    const rss = samples.map((s) => s.rss);
    const maxRss = Math.max(...rss);
    console.log(
      `flood: ${written} lines in ${seconds.toFixed(1)} s, ${samples.length} API polls, ` +
        `slowest ${Math.max(...samples.map((s) => s.ms)).toFixed(0)} ms, ` +
        `RSS ${rss[0].toFixed(0)} -> ${rss.at(-1)!.toFixed(0)} MB (max ${maxRss.toFixed(0)})`,
    );
    assert.ok(samples.length >= 3, `${samples.length} polls during the flood`);
    assert.ok(maxRss < 300, `orchestrator RSS ${maxRss.toFixed(0)} MB`);
    // Not growing: the second half of the flood peaks no higher than the first (give or take).
    const half = Math.floor(rss.length / 2);
    const [early, late] = [Math.max(...rss.slice(0, half)), Math.max(...rss.slice(half))];
    assert.ok(late - early < 64, `RSS peak ${early.toFixed(0)} MB, then ${late.toFixed(0)} MB`);

    // The echo to the orchestrator's log is rate-limited and summarized.
    const echoed = orch.logs.filter((l) => l.module === "flood" && l.stream === "stdout");
    assert.ok(echoed.length < 5_000, `${echoed.length} flood lines echoed`);
    await orch.waitForLog((l) => l.module === "flood" && /lines suppressed$/.test(String(l.msg)));

    // The endless line was cut once; the line after it came through.
    const [cut, after] = await waitFor(async () => {
      const lines = await tail(orch.url, "longline", 2);
      return lines[1]?.line.startsWith("after the long line") ? lines : undefined;
    });
    assert.equal(cut.line, "y".repeat(16 * 1024) + CUT_MARKER);
    assert.equal(Number(after.sequence), Number(cut.sequence) + 1);

    // Both modules are still up; the orchestrator still answers.
    for (const name of ["flood", "longline"]) {
      assert.match(String((await moduleOf(orch.url, name)).state), /READY/);
    }

    // The log file rotated at 64 KiB, keeping 2 old files of JSON lines.
    const names = [...Deno.readDirSync(`${data}/logs`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["orchestrator.log", "orchestrator.log.1", "orchestrator.log.2"]);
    for (const name of names) {
      const text = await Deno.readTextFile(`${data}/logs/${name}`);
      assert.ok(text.length <= 64 * 1024, `${name}: ${text.length} bytes`);
      for (const line of text.trimEnd().split("\n")) JSON.parse(line);
    }
  } finally {
    const status = await orch.stop();
    assert.equal(status.code, 0);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

/** Reads Server-Sent Events from a response body. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<{ id?: string; data: Record<string, unknown> }> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = block.split("\n");
          const data = fields.find((f) => f.startsWith("data: "));
          if (!data) continue; // A keep-alive comment.
          const id = fields.find((f) => f.startsWith("id: "))?.slice(4);
          return { id, data: JSON.parse(data.slice(6)) };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the event stream ended");
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("GetModuleLogs: tail as NDJSON, follow as SSE, 404; module lines in the log file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addLogModule(dir, "quiet");
  const orch = await startOrchestrator({ modules: dir, data });
  try {
    const mod = await waitFor(
      async () => {
        const m = await moduleOf(orch.url, "quiet");
        return m.state === "MODULE_STATE_READY" ? m : undefined;
      },
      30_000,
      "quiet READY",
    );
    const pid = mod.pid as number;
    Deno.kill(pid, "SIGUSR2");
    await waitFor(async () => (await tail(orch.url, "quiet", 1))[0]?.line === "signal 1 burst 5");

    // tail=3: exactly the last three lines, as NDJSON, tagged.
    const res = await get(`${orch.url}/v1/modules/quiet/logs?tail=3`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/x-ndjson/);
    const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l).entry as Entry);
    assert.deepEqual(lines.map((l) => l.line), [3, 4, 5].map((i) => `signal 1 burst ${i}`));
    const first = Number(lines[0].sequence);
    lines.forEach((l, i) => {
      assert.deepEqual(l, {
        time: l.time,
        module: "quiet",
        pid,
        restart: 0,
        stream: "LOG_STREAM_STDOUT",
        line: l.line,
        level: "SEVERITY_INFO",
        sequence: String(first + i),
      });
      assert.ok(!Number.isNaN(Date.parse(l.time)));
    });

    // follow over SSE: the tail line, then a line written after the request.
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(new Error("SSE test timed out")), 30_000);
    try {
      const stream = await fetch(`${orch.url}/v1/modules/quiet/logs?tail=1&follow=true`, {
        headers: { accept: "text/event-stream" },
        signal: abort.signal,
      });
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
      const events = sseReader(stream.body!);
      const e1 = await events.next();
      const entry1 = e1.data.entry as Entry;
      assert.equal(entry1.line, "signal 1 burst 5");
      assert.equal(e1.id, entry1.sequence);
      Deno.kill(pid, "SIGUSR2");
      const e2 = await events.next();
      const entry2 = e2.data.entry as Entry;
      assert.equal(entry2.line, "signal 2 burst 1");
      assert.equal(entry2.module, "quiet");
      assert.equal(entry2.pid, pid);
      assert.equal(e2.id, String(Number(entry1.sequence) + 1));
      // The client goes away.
      await events.cancel();
    } finally {
      clearTimeout(timeout);
      abort.abort();
    }

    // The orchestrator stays healthy and keeps capturing.
    assert.equal((await get(`${orch.url}/healthz`)).status, 200);
    Deno.kill(pid, "SIGUSR2");
    await waitFor(async () => (await tail(orch.url, "quiet", 1))[0]?.line === "signal 3 burst 5");
    assert.equal((await moduleOf(orch.url, "quiet")).state, "MODULE_STATE_READY");

    // An unknown module: 404 with a JSON error body.
    const missing = await get(`${orch.url}/v1/modules/nope/logs?tail=3`);
    assert.equal(missing.status, 404);
    const body = await missing.json();
    assert.equal(body.code, 5);
    assert.match(body.message, /module "nope" not found/);

    // The log file: JSON lines, the module's lines tagged module/pid/restart/stream.
    const file = `${data}/logs/orchestrator.log`;
    const records = await waitFor(
      async () => {
        const recs = (await Deno.readTextFile(file)).trimEnd().split("\n").map((l) =>
          JSON.parse(l)
        );
        return recs.some((r) => r.msg === "signal 3 burst 5") ? recs : undefined;
      },
      10_000,
      "module lines in the log file",
    );
    assert.ok(records.some((r) => r.msg === "orchestrator listening"));
    const line = records.find((r) => r.msg === "signal 1 burst 1");
    assert.deepEqual(line, {
      time: line.time,
      level: "info",
      msg: "signal 1 burst 1",
      module: "quiet",
      pid,
      restart: 0,
      stream: "stdout",
    });
  } finally {
    const status = await orch.stop();
    assert.equal(status.code, 0);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

/**
 * The pieces of per-module resources without an orchestrator: /proc/<pid>/stat parsing
 * (command names with spaces and parentheses), a real process tree of this test (a child
 * and a grandchild found, their memory summed), the memory-limit window, the preview's
 * choice of connection, and a bad CA_RESOURCE_INTERVAL_MS refused at start with its name.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ConnectionSchema, MediaType } from "@callassistant/protocol";
import {
  pageSize,
  parseStat,
  scanProcesses,
  treeOf,
  usageOf,
} from "../../src/supervisor/process_tree.ts";
import { judgeMemory } from "../../src/supervisor/memory_limit.ts";
import { previewSourceOf } from "../../src/web/preview.ts";
import { ROOT, waitFor } from "../helpers/test_orchestrator.ts";
import { DENO } from "../helpers/processes.ts";

Deno.test("parseStat: fields after a command name with spaces and parentheses", () => {
  const line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 500 0 0 0 " +
    "150 50 7 3 20 0 4 0 12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
  const s = parseStat(line)!;
  assert.deepEqual(s, { pid: 4242, ppid: 17, ownTicks: 200, childTicks: 10, rssPages: 2560 });
  assert.equal(parseStat(line.replace(") S ", ") Z ")), undefined, "a zombie is skipped");
  assert.equal(parseStat("garbage"), undefined);
});

Deno.test("treeOf: a real child and grandchild are found and summed", async () => {
  // sh (child) starts sleep (grandchild); both belong to this test's tree.
  const child = new Deno.Command("sh", {
    args: ["-c", "sleep 30 & wait"],
    stdin: "null",
  }).spawn();
  try {
    const tree = await waitFor(
      () => {
        const t = treeOf(scanProcesses(), child.pid);
        return t.length >= 2 ? t : undefined;
      },
      5_000,
      "the sleep grandchild",
    );
    assert.equal(tree[0].pid, child.pid);
    const usage = usageOf(tree);
    assert.equal(usage.processes, 2);
    assert.ok(usage.rssBytes > 100 * 1024, `${usage.rssBytes} bytes`);
    assert.ok([4096, 16384, 65536].includes(pageSize()), `page size ${pageSize()}`);
    // The whole tree of this process holds the child too, and more memory.
    const mine = usageOf(treeOf(scanProcesses(), Deno.pid));
    assert.ok(mine.processes >= 3 && mine.rssBytes > usage.rssBytes);
    assert.deepEqual(treeOf(scanProcesses(), 0x7ffffff0), [], "no such process: empty");
  } finally {
    for (const p of treeOf(scanProcesses(), child.pid)) Deno.kill(p.pid, "SIGKILL");
    await child.status;
  }
});

Deno.test("judgeMemory: the window starts over the limit and resets under it", () => {
  const limit = { memoryBytes: 1000, forMs: 30_000 };
  const t0 = new Date(1_000_000);
  const at = (ms: number) => new Date(t0.getTime() + ms);
  assert.deepEqual(judgeMemory(undefined, 5000, undefined, t0), { restart: false });
  assert.deepEqual(judgeMemory(limit, 1000, undefined, t0), { restart: false }, "at the limit");
  assert.deepEqual(judgeMemory(limit, 1001, undefined, t0), { overSince: t0, restart: false });
  assert.deepEqual(judgeMemory(limit, 2000, t0, at(29_999)), { overSince: t0, restart: false });
  assert.deepEqual(judgeMemory(limit, 2000, t0, at(30_000)), { overSince: t0, restart: true });
  assert.deepEqual(judgeMemory(limit, 999, t0, at(30_000)), { restart: false }, "back under");
});

Deno.test("previewSourceOf: only browser formats from http(s) addresses the entity sends", () => {
  const conn = (id: string, source: string, protocol: string, address: string) =>
    create(ConnectionSchema, {
      id,
      flowId: "f",
      sourceEntityId: source,
      targetEntityId: "tv",
      format: { mediaType: MediaType.VIDEO, protocol, codec: "h264" },
      address,
    });
  const list = [
    conn("c1", "cam", "rtsp", "rtsp://127.0.0.1:8554/cam"),
    conn("c2", "conv", "mjpeg", "file:///etc/passwd"),
    conn("c3", "conv", "hls", "http://127.0.0.1:9000/hls/conv/index.m3u8"),
  ];
  assert.equal(previewSourceOf(list, "cam"), undefined, "RTSP is not browser-playable");
  assert.equal(previewSourceOf(list, "tv"), undefined, "a receiver sends nothing");
  assert.deepEqual(previewSourceOf(list, "conv"), {
    entityId: "conv",
    protocol: "hls",
    flowId: "f",
    connectionId: "c3",
    address: "http://127.0.0.1:9000/hls/conv/index.m3u8",
  });
});

Deno.test("a bad CA_RESOURCE_INTERVAL_MS stops the start, naming the variable", async () => {
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  for (const bad of ["50", "fast"]) {
    const out = await new Deno.Command(DENO, {
      args: [
        "run",
        "--allow-all",
        `${ROOT}main.ts`,
        "run",
        "--modules",
        modules,
        "--data",
        data,
        "--http",
        "127.0.0.1:0",
        "--grpc",
        "127.0.0.1:0",
      ],
      env: { CA_RESOURCE_INTERVAL_MS: bad },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(
      stderr,
      new RegExp(
        `CA_RESOURCE_INTERVAL_MS must be 0 \\(off\\) or a whole number of ms from 100, not "${bad}"`,
      ),
    );
  }
});

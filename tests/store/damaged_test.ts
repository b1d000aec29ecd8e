/**
 * A damaged or emptied database stops startup with one line naming the file and how to
 * recover; `--restore-backup` puts the last good copy back (kept by the orchestrator as a
 * rotating backup) and keeps the damaged file beside it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { readLines } from "../../src/log/lines.ts";
import { addModule, ROOT, startOrchestrator, waitForState } from "../helpers/test_orchestrator.ts";

const DB = "callassistant.db";

/**
 * Runs the orchestrator until it exits (within `timeoutMs`); a start that gets as far as
 * listening is a failure of this test (the process is stopped).
 */
async function refusedStart(modules: string, data: string, timeoutMs = 20_000) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${ROOT}main.ts`,
      "run",
      "--modules",
      modules,
      "--data",
      data,
      "--grpc",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let listening = false;
  const read = readLines(child.stderr, (line) => {
    lines.push(line);
    if (/orchestrator listening/.test(line) && !listening) {
      listening = true;
      child.kill("SIGTERM");
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  await read.catch(() => {});
  assert.ok(!listening, `the orchestrator started on a damaged store:\n${lines.join("\n")}`);
  return { code: status.code, lines };
}

/** Writes random bytes over the page holding table `table`'s root (not the header page). */
function garbleTable(path: string, table: string): void {
  const db = new DatabaseSync(path);
  const pageSize = (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
  const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = ?").get(
    table,
  ) as { rootpage: number };
  db.close();
  assert.ok(rootpage > 1);
  const file = Deno.openSync(path, { write: true });
  file.seekSync((rootpage - 1) * pageSize, Deno.SeekMode.Start);
  file.writeSync(crypto.getRandomValues(new Uint8Array(pageSize)));
  file.close();
}

Deno.test("store: an empty database file without a backup stops startup, naming it", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  try {
    await Deno.writeFile(`${data}/${DB}`, new Uint8Array());
    const { code, lines } = await refusedStart(modules, data);
    assert.equal(code, 4, lines.join("\n"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], new RegExp(`${data}/${DB}`));
    assert.match(lines[0], /is empty \(0 bytes\)/);
    assert.match(lines[0], /no backup/);
    // Nothing was touched: the file is still there, still empty.
    assert.equal((await Deno.stat(`${data}/${DB}`)).size, 0);
  } finally {
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("store: a garbled or emptied database stops startup; --restore-backup recovers", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  await addModule(
    modules,
    "conf",
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
  const put = (url: string, host: string, expectedRevision: string) =>
    fetch(`${url}/v1/modules/conf/config`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ config: { host }, expectedRevision }),
    }).then((r) => r.json());
  try {
    let orch = await startOrchestrator({ modules, data });
    try {
      await waitForState(orch.url, "conf", "WAITING_FOR_CONFIG");
      assert.equal((await put(orch.url, "kept.local", "0")).current.revision, "1");
    } finally {
      await orch.stop();
    }
    // A clean stop leaves a backup of the good store.
    const files = [...Deno.readDirSync(data)].map((e) => e.name);
    assert.ok(files.includes(`${DB}.backup.1`), files.join(", "));

    garbleTable(`${data}/${DB}`, "revisions");
    const garbled = await refusedStart(modules, data);
    assert.equal(garbled.code, 4, garbled.lines.join("\n"));
    assert.equal(garbled.lines.length, 1, garbled.lines.join("\n"));
    assert.match(garbled.lines[0], new RegExp(`${data}/${DB} is damaged`));
    assert.match(garbled.lines[0], /--restore-backup/);
    assert.match(garbled.lines[0], new RegExp(`${DB}\\.backup\\.1`));

    orch = await startOrchestrator({ modules, data, args: ["--restore-backup"] });
    try {
      await waitForState(orch.url, "conf", "READY");
      const config = await (await fetch(`${orch.url}/v1/modules/conf/config`)).json();
      assert.equal(config.current.revision, "1");
      assert.equal(config.current.config.host, "kept.local");
      assert.ok(orch.logs.some((l) => l.msg === "database restored from its backup"));
      assert.equal((await put(orch.url, "after.local", "1")).current.revision, "2");
    } finally {
      await orch.stop();
    }
    const kept = [...Deno.readDirSync(data)].map((e) => e.name);
    assert.ok(kept.some((n) => n.startsWith(`${DB}.damaged-`)), kept.join(", "));

    // Emptied: the same refusal, and the newest backup holds revision 2.
    await Deno.truncate(`${data}/${DB}`, 0);
    const emptied = await refusedStart(modules, data);
    assert.equal(emptied.code, 4, emptied.lines.join("\n"));
    assert.match(emptied.lines[0], /is empty \(0 bytes\)/);
    assert.match(emptied.lines[0], /--restore-backup/);
    orch = await startOrchestrator({ modules, data, args: ["--restore-backup"] });
    try {
      await waitForState(orch.url, "conf", "READY");
      const config = await (await fetch(`${orch.url}/v1/modules/conf/config`)).json();
      assert.equal(config.current.config.host, "after.local");
    } finally {
      await orch.stop();
    }
  } finally {
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

/**
 * The embedded database: documents, revision logs with optimistic concurrency,
 * migrations, transactions, file permissions, and acknowledged writes surviving kill -9.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { RevisionConflictError, Store, STORE_FILE } from "../../src/store/store.ts";
import { backupPath, existingBackups, fileProblems } from "../../src/store/backup.ts";

async function withStore(fn: (store: Store, dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ca-store-" });
  const store = Store.open(dir);
  try {
    await fn(store, dir);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("store: WAL, synchronous=FULL, and a private database file", async () => {
  await withStore((store, dir) => {
    assert.equal(
      (store.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
      "wal",
    );
    assert.equal(
      (store.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous,
      2,
    );
    assert.equal(Deno.statSync(`${dir}/${STORE_FILE}`).mode! & 0o777, 0o600);
  });
});

Deno.test("store: collections keep JSON documents by id, separately per collection", async () => {
  await withStore((store, dir) => {
    const a = store.collection<{ name: string; tags: string[] }>("a");
    const b = store.collection<{ name: string }>("b");
    a.put("x", { name: "first", tags: ["t"] });
    a.put("w", { name: "second", tags: [] });
    b.put("x", { name: "other" });
    assert.deepEqual(a.get("x"), { name: "first", tags: ["t"] });
    assert.equal(a.get("nope"), undefined);
    assert.deepEqual(a.list().map((d) => d.id), ["w", "x"], "sorted by id");
    assert.equal(a.count(), 2);
    a.put("x", { name: "replaced", tags: [] });
    assert.equal(a.get("x")?.name, "replaced");
    assert.equal(a.delete("x"), true);
    assert.equal(a.delete("x"), false);
    assert.equal(b.get("x")?.name, "other");
    store.close();
    const again = Store.open(dir);
    try {
      assert.deepEqual(again.collection("a").list().map((d) => d.id), ["w"]);
    } finally {
      again.close();
    }
  });
});

Deno.test("store: revision logs count from 1 and refuse a stale expected revision", async () => {
  await withStore((store) => {
    const log = store.revisions<{ level: string }>("config");
    assert.equal(log.current("cam"), undefined);
    const r1 = log.append("cam", { level: "info" }, { expectedRevision: 0, author: "api" });
    assert.equal(r1.revision, 1);
    assert.equal(r1.author, "api");
    const r2 = log.append("cam", { level: "debug" }, { expectedRevision: 1 });
    assert.equal(r2.revision, 2);
    assert.throws(
      () => log.append("cam", { level: "warn" }, { expectedRevision: 1 }),
      (err: unknown) => {
        assert.ok(err instanceof RevisionConflictError);
        assert.equal(err.current, 2);
        assert.match(err.message, /"cam" is at revision 2, not 1/);
        return true;
      },
    );
    log.append("cam", { level: "error" }); // No expectation: always appends.
    log.append("screen", { level: "info" });
    assert.equal(log.current("cam")?.value.level, "error");
    assert.deepEqual(log.history("cam").map((r) => r.revision), [3, 2, 1], "newest first");
    assert.deepEqual(log.history("cam", 1).map((r) => r.revision), [3]);
    assert.deepEqual(log.keys(), ["cam", "screen"]);
    assert.equal(log.prune("cam", 1), 2);
    assert.deepEqual(log.history("cam").map((r) => r.revision), [3]);
    assert.equal(log.append("cam", { level: "info" }).revision, 4, "revisions never go back");
  });
});

Deno.test("store: migrations run once per area, in order, and refuse a newer database", async () => {
  await withStore((store, dir) => {
    const steps = [
      "CREATE TABLE things (id TEXT PRIMARY KEY)",
      "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0",
    ];
    store.migrate("things", steps.slice(0, 1));
    store.migrate("things", steps);
    store.migrate("things", steps); // Nothing left to do.
    store.db.prepare("INSERT INTO things (id, size) VALUES (?, ?)").run("a", 3);
    assert.throws(() => store.migrate("things", steps.slice(0, 1)), /version 2 of "things", newer/);
    // A failing step leaves the area at its last good version.
    assert.throws(() => store.migrate("broken", ["CREATE TABLE ok (x)", "NOT SQL"]));
    store.migrate("broken", ["CREATE TABLE ok (x)", "CREATE TABLE fixed (y)"]);
    store.close();
    const again = Store.open(dir);
    try {
      again.migrate("things", steps);
      assert.deepEqual({ ...again.db.prepare("SELECT size FROM things").get() }, { size: 3 });
    } finally {
      again.close();
    }
  });
});

Deno.test("store: a transaction that throws leaves nothing behind, nested ones roll back alone", async () => {
  await withStore((store) => {
    const docs = store.collection<number>("n");
    assert.throws(() =>
      store.transaction(() => {
        docs.put("a", 1);
        throw new Error("boom");
      }), /boom/);
    assert.equal(docs.get("a"), undefined);
    store.transaction(() => {
      docs.put("b", 2);
      assert.throws(() =>
        store.transaction(() => {
          docs.put("c", 3);
          throw new Error("inner");
        })
      );
    });
    assert.equal(docs.get("b"), 2);
    assert.equal(docs.get("c"), undefined);
  });
});

Deno.test("store: a file that is not a database is an error naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-store-" });
  try {
    await Deno.writeTextFile(
      `${dir}/${STORE_FILE}`,
      "this is not a database, but it is long enough ".repeat(20),
    );
    assert.throws(
      () => Store.open(dir),
      new RegExp(`the database .*${STORE_FILE} is damaged \\(SQLite: file is not a database\\)`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: every acknowledged write survives kill -9 of the writer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-store-" });
  const writer = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fileURLToPath(new URL("./writer.ts", import.meta.url)), dir],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  let acked = 0;
  try {
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = writer.stdout.getReader();
    while (acked < 150) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`writer exited after ${acked} writes`);
      buffer += decoder.decode(value);
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) acked = Math.max(acked, Number(line.split(" ")[1]));
    }
    writer.kill("SIGKILL");
    reader.releaseLock();
    await writer.stdout.cancel().catch(() => {});
  } finally {
    try {
      writer.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await writer.status;
  }
  const store = Store.open(dir);
  try {
    const docs = store.collection<{ n: number }>("docs");
    for (let n = 1; n <= acked; n++) assert.deepEqual(docs.get(`doc-${n}`), { n }, `doc-${n}`);
    const current = store.revisions<{ n: number }>("config").current("module");
    assert.ok(current && current.revision >= acked, `revision ${current?.revision} >= ${acked}`);
    assert.equal(current.value.n, current.revision);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: a backup follows a quiet moment after writes, rotating three", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-store-" });
  const store = Store.open(dir, STORE_FILE, { backupQuietMs: 100 });
  const path = `${dir}/${STORE_FILE}`;
  try {
    const docs = store.collection<{ n: number }>("docs");
    for (let round = 1; round <= 4; round++) {
      // File times have a coarse grain on some filesystems: start each round after a tick.
      await new Promise((r) => setTimeout(r, 20));
      docs.put("a", { n: round });
      // No backup while writes keep coming...
      assert.equal(existingBackups(path).length, round === 1 ? 0 : Math.min(3, round - 1));
      // ...one after they stop.
      const before = existingBackups(path)[0]?.modified.getTime() ?? 0;
      for (let i = 0; i < 100; i++) {
        if ((existingBackups(path)[0]?.modified.getTime() ?? 0) > before) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(existingBackups(path).length, Math.min(3, round));
    }
    // Newest first, each a good database holding what was written before it.
    const values = existingBackups(path).map((b) => {
      assert.equal(fileProblems(b.path), "");
      const copy = Store.open(dir, b.path.slice(dir.length + 1), { backupQuietMs: 0 });
      try {
        return copy.collection<{ n: number }>("docs").get("a")?.n;
      } finally {
        copy.close();
      }
    });
    assert.deepEqual(values, [4, 3, 2]);
    assert.equal(Deno.statSync(backupPath(path, 1)).mode! & 0o777, 0o600);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A full disk under the data directory: configuration and entity writes answer 503
 * (UNAVAILABLE) with a clear message instead of 500, nothing half-written is kept, and once
 * space is freed the same orchestrator process writes again. The data directory is a
 * small tmpfs mounted by the test (root only; skipped with a message otherwise).
 */
import assert from "node:assert/strict";
import {
  addCamera,
  addModule,
  ROOT,
  startOrchestrator,
  waitForState,
} from "../helpers/test_orchestrator.ts";

async function run(cmd: string, ...args: string[]): Promise<{ ok: boolean; err: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
}

/** Mounts a tmpfs of `size` on a new directory; undefined (with the reason) when it cannot. */
async function mountTmpfs(size: string): Promise<{ dir?: string; reason?: string }> {
  if (Deno.uid() !== 0) return { reason: "not root" };
  const dir = await Deno.makeTempDir({ prefix: "ca-test-full-" });
  const mounted = await run("mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir);
  if (!mounted.ok) {
    await Deno.remove(dir);
    return { reason: `mount failed: ${mounted.err}` };
  }
  return { dir };
}

/** Writes to `path` until the filesystem is full, in ever smaller blocks down to 512 bytes. */
async function fill(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  try {
    for (let block = 256 * 1024; block >= 512; block /= 2) {
      const bytes = new Uint8Array(block).fill(7);
      for (let i = 0; i < 100_000; i++) {
        try {
          await file.write(bytes);
        } catch {
          break;
        }
      }
    }
  } finally {
    file.close();
  }
}

async function call(url: string, method: string, path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("store: a full disk gives 503, and writes work again once space is freed", async () => {
  const { dir: data, reason } = await mountTmpfs("3m");
  if (!data) {
    console.log(`SKIPPED: the disk-full test needs to mount a tmpfs (${reason})`);
    return;
  }
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(modules);
  await addModule(
    modules,
    "conf",
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
  // No log file: the point is the database on a full disk.
  const orch = await startOrchestrator({ modules, data, args: ["--log-files", "0"] });
  try {
    await waitForState(orch.url, "test-camera", "READY");
    await waitForState(orch.url, "conf", "WAITING_FOR_CONFIG");
    const first = await call(orch.url, "PUT", "/v1/modules/conf/config", {
      config: { host: "first" },
      expectedRevision: "0",
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));

    await fill(`${data}/filler`);
    // Large values, so the write needs new pages whatever SQLite has free.
    const big = "x".repeat(64 * 1024);
    for (let attempt = 0; attempt < 3; attempt++) {
      const put = await call(orch.url, "PUT", "/v1/modules/conf/config", {
        config: { host: `full-${attempt}-${big}` },
        expectedRevision: "1",
      });
      assert.equal(put.status, 503, JSON.stringify(put.body).slice(0, 300));
      assert.equal(put.body.code, 14);
      assert.match(put.body.message, /disk is full/);
      assert.match(put.body.message, /callassistant\.db/);
    }
    const entity = await call(orch.url, "POST", "/v1/entities", {
      entityType: "video_source",
      name: `Porch ${big}`,
    });
    assert.equal(entity.status, 503, JSON.stringify(entity.body).slice(0, 300));
    assert.match(entity.body.message, /disk is full/);
    // Not kept either: neither in the orchestrator nor in the module.
    const listed = await (await fetch(`${orch.url}/v1/entities`)).json();
    assert.deepEqual(
      listed.entities.filter((e: { name: string }) => e.name.startsWith("Porch")),
      [],
    );
    // Nothing half-written: still revision 1, and the module still runs it.
    const stored = await (await fetch(`${orch.url}/v1/modules/conf/config`)).json();
    assert.equal(stored.current.revision, "1");
    assert.equal(stored.current.config.host, "first");

    await Deno.remove(`${data}/filler`);
    const again = await call(orch.url, "PUT", "/v1/modules/conf/config", {
      config: { host: "after" },
      expectedRevision: "1",
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.current.revision, "2");
    const porch = await call(orch.url, "POST", "/v1/entities", {
      entityType: "video_source",
      name: "Porch",
    });
    assert.equal(porch.status, 200, JSON.stringify(porch.body));
    const third = await call(orch.url, "PUT", "/v1/modules/conf/config", {
      config: { host: "third" },
      expectedRevision: "2",
    });
    assert.equal(third.status, 200, JSON.stringify(third.body));
  } finally {
    await orch.stop();
    await run("umount", data);
    await Deno.remove(data, { recursive: true });
    await Deno.remove(modules, { recursive: true });
  }
});

/**
 * `replicas: 3` with the real test camera: three processes, each supervised; entity calls
 * spread over them, each entity answered by the instance that holds it; an instance
 * killed with SIGKILL is restarted on its own while the module stays READY, and the
 * entities it held are re-established on the instances serving; a reload down to one
 * instance stops the others.
 */
import assert from "node:assert/strict";
import { addCamera, isAlive, startOrchestrator, waitFor } from "../helpers/orchestrator.ts";

type Replica = { index: number; state: string; pid: number; grpcPort: number; restarts: number };
type ModuleView = { state: string; pid: number; grpcPort: number; replicas: Replica[] };

async function camera(url: string): Promise<ModuleView> {
  return (await (await fetch(`${url}/v1/modules/test-camera`)).json()).module;
}

/** GET /v1/entities/{id}: the HTTP status, and the live status the module answered with. */
async function entityStatus(url: string, id: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/v1/entities/${id}`);
  return { status: res.status, body: await res.text() };
}

/** The answer is the module's own: not "does not know this entity", not unavailable. */
const ANSWERED_BY_HOLDER = (body: string) =>
  !/does not know this entity|status unavailable|ENTITY_STATE_(FAILED|OFFLINE)/.test(body);

Deno.test("replicas: three supervised instances; entities stay with their instance; one killed is replaced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir, "test-camera", "replicas: 3\nrestart: { backoff: { initial: 100ms } }\n");
  const orch = await startOrchestrator({ modules: dir });
  const pids: number[] = [];
  try {
    const all = await waitFor(
      async () => {
        const m = await camera(orch.url);
        const ready = m.state === "MODULE_STATE_READY" && m.replicas.length === 2 &&
          m.replicas.every((r) => r.state === "MODULE_STATE_READY");
        return ready ? m : undefined;
      },
      60_000,
      "the module and its two other instances READY",
    );
    assert.deepEqual(all.replicas.map((r) => r.index), [1, 2]);
    pids.push(all.pid, ...all.replicas.map((r) => r.pid));
    assert.equal(new Set(pids).size, 3, "three processes");
    assert.equal(new Set([all.grpcPort, ...all.replicas.map((r) => r.grpcPort)]).size, 3);

    // Six entities: created round-robin, so every instance holds some.
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) {
      const res = await fetch(`${orch.url}/v1/entities`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ entityType: "video_source", name: `Cam ${i}` }),
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      ids.push(body.entity.id);
    }
    const logs = await (await fetch(`${orch.url}/v1/modules/test-camera/logs?tail=200`)).text();
    const creators = new Set(
      logs.trim().split("\n").map((l) => JSON.parse(l).entry)
        .filter((e) => /camera created/.test(e.line)).map((e) => e.pid),
    );
    assert.equal(creators.size, 3, `entities created by every instance (${[...creators]})`);
    // Every entity's live status comes from the instance holding it (asked in another
    // order than created, so taking turns alone would ask the wrong instances).
    for (const id of [...ids].reverse()) {
      const r = await entityStatus(orch.url, id);
      assert.equal(r.status, 200, `${id}: ${r.body}`);
      assert.ok(ANSWERED_BY_HOLDER(r.body), `${id}: ${r.body}`);
    }

    // SIGKILL instance 1: it is restarted on its own; the module stays READY.
    const victim = all.replicas[0].pid;
    Deno.kill(victim, "SIGKILL");
    const during = await camera(orch.url);
    assert.equal(during.state, "MODULE_STATE_READY");
    const replaced = await waitFor(
      async () => {
        const m = await camera(orch.url);
        const r = m.replicas[0];
        return r.state === "MODULE_STATE_READY" && r.pid !== victim ? m : undefined;
      },
      30_000,
      "instance 1 back with a new pid",
    );
    assert.equal(replaced.replicas[0].restarts, 1);
    assert.equal(replaced.pid, all.pid, "instance 0 untouched");
    pids.push(replaced.replicas[0].pid);
    // The entities instance 1 held were lost with it and are recreated where they answer.
    await waitFor(
      async () => {
        for (const id of ids) {
          const r = await entityStatus(orch.url, id);
          if (r.status !== 200 || !ANSWERED_BY_HOLDER(r.body)) return false;
        }
        return true;
      },
      30_000,
      "every entity answering again",
    );
    const events = await fetch(
      `${orch.url}/v1/events?afterId=0&types=module.replica_state_changed`,
      { headers: { accept: "application/x-ndjson" } },
    );
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    await reader.cancel();
    const first = JSON.parse(value!.split("\n")[0]).event;
    assert.equal(first.module, "test-camera");
    assert.ok(first.data.replica >= 1);

    // Edited down to one instance: the reload stops the others and runs one.
    const before = await camera(orch.url);
    await addCamera(dir, "test-camera", "replicas: 1\n");
    const single = await waitFor(
      async () => {
        const m = await camera(orch.url);
        return m.state === "MODULE_STATE_READY" && m.replicas.length === 0 && m.pid !== before.pid
          ? m
          : undefined;
      },
      30_000,
      "one instance after the reload",
    );
    pids.push(single.pid);
    for (const r of before.replicas) {
      await waitFor(() => !isAlive(r.pid), 10_000, `instance ${r.index} gone after the reload`);
    }
  } finally {
    const status = await orch.stop();
    assert.equal(status.code, 0);
    await Deno.remove(dir, { recursive: true });
  }
  for (const pid of pids) assert.ok(!isAlive(pid), `instance pid ${pid} is gone`);
});

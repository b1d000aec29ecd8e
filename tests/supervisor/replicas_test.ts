/**
 * `replicas: 3` with the real test camera: three processes, each supervised; entity calls
 * spread over them, each entity answered by the instance that holds it; an instance
 * killed with SIGKILL is restarted on its own while the module stays READY, and the
 * entities it held are re-established on the instances serving; a reload down to one
 * instance stops the others.
 */
import assert from "node:assert/strict";
import { addCamera, isAlive, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addExample, converterIds, ok, waitReady } from "../flows/flow_helpers.ts";

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

    // A command reaches every instance.
    const command = await fetch(`${orch.url}/v1/modules/test-camera:command`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ setLogLevel: { level: "debug" } }),
    });
    assert.equal(command.status, 200, await command.text());
    await waitFor(
      async () => {
        const tail = await (await fetch(`${orch.url}/v1/modules/test-camera/logs?tail=300`)).text();
        const told = new Set(
          tail.trim().split("\n").map((l) => JSON.parse(l).entry)
            .filter((e) => /log level set to debug/.test(e.line)).map((e) => e.pid),
        );
        return told.size === 3;
      },
      10_000,
      "every instance logging its new level",
    );

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

Deno.test("replicas: a flow through a replicated converter starts and stops on every instance holding part of it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addExample(dir, "test-camera");
  await addExample(dir, "media-converter", "media-converter", "replicas: 2\n");
  await addExample(dir, "matrix-call");
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitReady(orch.url, ["test-camera", "media-converter", "matrix-call"]);
    await waitFor(
      async () => {
        const { module } = await ok(orch.url, "GET", "/v1/modules/media-converter");
        return module.replicas[0]?.state === "MODULE_STATE_READY";
      },
      30_000,
      "the converter's second instance READY",
    );
    await ok(orch.url, "POST", "/v1/entities", { entityType: "video_source", name: "Front door" });
    await ok(orch.url, "POST", "/v1/entities", {
      entityType: "matrix_room_call",
      name: "Family",
      configuration: { room_id: "!family:example.org" },
    });
    // Two converters (an audio transcoder and RTSP to WebRTC), created in turn on the two
    // instances; each must be connected and started where it lives.
    const flow = (await ok(orch.url, "POST", "/v1/flows", {
      sourceEntityId: "front-door",
      targetEntityId: "family",
    })).flow;
    assert.equal(flow.state, "FLOW_STATE_ACTIVE", JSON.stringify(flow));
    const converters = converterIds(flow);
    assert.equal(converters.length, 2);
    const logs = await (await fetch(`${orch.url}/v1/modules/media-converter/logs?tail=200`)).text();
    const entries = logs.trim().split("\n").map((l) => JSON.parse(l).entry);
    const hosts = new Set(
      entries.filter((e) =>
        /converter created/.test(e.line) && converters.some((id) => e.line.includes(id))
      ).map((e) => e.pid),
    );
    assert.equal(hosts.size, 2, "the two converters live on different instances");
    // Live status and a quality change reach the flow; stop and delete undo it everywhere.
    const live = await waitFor(
      async () => {
        const f = (await ok(orch.url, "GET", `/v1/flows/${flow.id}`)).flow;
        const mine = f.statuses.find((s: { module: string }) => s.module === "media-converter");
        return mine?.state === "FLOW_STATE_ACTIVE" ? f : undefined;
      },
      20_000,
      "the converter's live flow status",
    );
    assert.equal(live.state, "FLOW_STATE_ACTIVE");
    const adjusted = (await ok(orch.url, "POST", `/v1/flows/${flow.id}:adjustQuality`, {
      quality: { preset: "QUALITY_PRESET_LOW" },
    })).flow;
    assert.equal(adjusted.state, "FLOW_STATE_ACTIVE", JSON.stringify(adjusted));
    await ok(orch.url, "POST", `/v1/flows/${flow.id}:stop`, {});
    await ok(orch.url, "DELETE", `/v1/flows/${flow.id}`);
    const left = await ok(orch.url, "GET", "/v1/entities?module=media-converter");
    assert.deepEqual(left.entities, [], "the flow's converters are destroyed on their instances");
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

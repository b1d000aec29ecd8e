/**
 * `run --seed FILE`: a fresh data directory gets the seed's entities and flows once its
 * modules are up; a later start leaves the data alone (what was deleted stays deleted);
 * a bad seed file is one line and exit 2. Runs the simulated camera and converter and the
 * Python cast screen.
 */
import assert from "node:assert/strict";
import { parseSeed } from "../../src/seed/seed_file.ts";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { addExample, ok } from "../flows/flow_helpers.ts";

const SEED = `
entities:
  - { id: porch, entityType: video_source, module: test-camera, name: Porch, configuration: { fps: 25 } }
  - { id: tv, entityType: cast_screen, name: TV }
flows:
  - { id: porch-to-tv, sourceEntityId: porch, targetEntityId: tv, targetProtocol: hls }
`;

Deno.test("seed: applied once to a fresh data directory, as the modules come up", async () => {
  const modules = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const seed = `${modules}/seed.yaml`;
  await Deno.writeTextFile(seed, SEED);
  for (const m of ["test-camera", "media-converter", "cast-screen"] as const) {
    await addExample(modules, m);
  }
  try {
    let orch = await startOrchestrator({ modules, data, args: ["--seed", seed] });
    try {
      const flow = await waitFor(
        async () => {
          const r = await fetch(`${orch.url}/v1/flows/porch-to-tv`);
          const body = await r.json();
          return r.status === 200 && body.flow.state === "FLOW_STATE_ACTIVE" && body.flow;
        },
        30_000,
        "the seeded flow ACTIVE",
      );
      assert.equal(flow.targetProtocol, "hls");
      assert.deepEqual(
        flow.path.map((h: { entityType: string }) => h.entityType).slice(0, 3),
        ["video_source", "rtsp_to_hls", "cast_screen"],
      );
      const porch = (await ok(orch.url, "GET", "/v1/entities/porch")).entity;
      assert.equal(porch.name, "Porch");
      const marker = JSON.parse(await Deno.readTextFile(`${data}/seed-applied.json`));
      assert.deepEqual(marker.flows, ["porch-to-tv"]);
      await ok(orch.url, "DELETE", "/v1/flows/porch-to-tv");
    } finally {
      await orch.stop();
    }
    // The next start keeps what the user did: the deleted flow does not come back.
    orch = await startOrchestrator({ modules, data, args: ["--seed", seed] });
    try {
      await waitFor(
        async () => {
          const r = await fetch(`${orch.url}/v1/entities/porch`);
          await r.body?.cancel();
          return r.status === 200;
        },
        30_000,
        "the stored entity back",
      );
      await new Promise((r) => setTimeout(r, 1500));
      const r = await fetch(`${orch.url}/v1/flows/porch-to-tv`);
      await r.body?.cancel();
      assert.equal(r.status, 404, "not seeded again");
    } finally {
      await orch.stop();
    }
  } finally {
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("seed: a bad seed file is one line naming the field, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-seed-" });
  try {
    const cases: [string, RegExp][] = [
      ["entities: [ {", /--seed .*bad\.yaml: YAML syntax error/],
      ["nope: 1", /--seed .*: unknown key "nope" \(keys: entities, flows\)/],
      ["entities: [{ entityType: x }]", /entities\[0\]\.id: required, a string/],
      [
        "flows: [{ id: 'a b', sourceEntityId: s, targetEntityId: t }]",
        /flows\[0\]\.id: "a b" is not valid/,
      ],
      ["entities: [{ id: a, entityType: x, color: red }]", /entities\[0\]: unknown field "color"/],
    ];
    for (const [text, message] of cases) {
      await Deno.writeTextFile(`${dir}/bad.yaml`, text);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          `${ROOT}main.ts`,
          "run",
          "--modules",
          `${ROOT}tests/fixtures/no-command`,
          "--data",
          dir,
          "--seed",
          `${dir}/bad.yaml`,
          "--grpc",
          "127.0.0.1:0",
          "--http",
          "127.0.0.1:0",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr).trim();
      assert.equal(out.code, 2, stderr);
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.match(stderr, message);
    }
    assert.throws(() => parseSeed("x", "flows: {}"), /flows: expected a list/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

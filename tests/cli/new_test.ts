/**
 * `new module`: the folders it writes pass fmt, lint, type check and `validate`, run READY
 * under a real orchestrator with no edits, take entities through the gateway and carry a
 * flow source -> converter -> sink; the TypeScript ones live outside this repository on
 * the packed SDK (one import-map line). Bad arguments get one clear line.
 */
import assert from "node:assert/strict";
import { moduleFiles, sdkWorkspace } from "../../src/cli/new_module.ts";
import { moduleSpec } from "../../src/cli/templates/spec.ts";
import { packSdk } from "../../scripts/pack_sdk.ts";
import { ROOT, startOrchestrator, waitFor, waitForState } from "../helpers/test_orchestrator.ts";

const decoder = new TextDecoder();

async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

function cli(...args: string[]) {
  return run(Deno.execPath(), ["run", "--allow-all", `${ROOT}main.ts`, ...args]);
}

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("new module --lang ts: three kinds outside the repository on the packed SDK, READY, a flow through them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-new-" });
  const modules = `${dir}/modules`;
  await Deno.mkdir(modules);
  let orch;
  try {
    await packSdk(`${dir}/callassistant-sdk`);
    for (const kind of ["source", "converter", "sink"]) {
      const r = await cli(
        "new",
        "module",
        `my-${kind}`,
        "--lang",
        "ts",
        "--kind",
        kind,
        "--modules",
        modules,
        "--sdk",
        `${dir}/callassistant-sdk`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`wrote ${modules}/my-${kind}: README\\.md, deno\\.json`));
      const folder = `${modules}/my-${kind}`;
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(`${folder}/deno.json`)),
        { imports: { "@callassistant/sdk": "../../callassistant-sdk/sdk/mod.ts" } },
        "one import-map line, relative to the module",
      );
      if (kind === "sink") {
        // As small as the SDK's minimal example: EntityTable and FlowTable do the rest.
        const lines = (await Deno.readTextFile(`${folder}/main.ts`)).trimEnd().split("\n");
        assert.ok(lines.length < 60, `the generated sink has ${lines.length} lines`);
      }
      // The code is clean by the author's own tools.
      for (const args of [["fmt", "--check"], ["lint"], ["check", "main.ts", "main_test.ts"]]) {
        const out = await run(Deno.execPath(), args, folder);
        assert.equal(out.code, 0, `deno ${args.join(" ")} in my-${kind}:\n${out.stderr}`);
      }
    }
    // Its own test passes (it runs the module as the orchestrator would), from Deno's cache
    // alone: the packed SDK needs no network once the npm packages are there.
    const own = await run(
      Deno.execPath(),
      ["test", "--cached-only", "--allow-all"],
      `${modules}/my-sink`,
    );
    assert.equal(own.code, 0, own.stdout + own.stderr);

    const validate = await cli("validate", "--modules", modules);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /^ok +my-converter /m);
    assert.match(validate.stdout, /3 modules, 0 with problems/);

    orch = await startOrchestrator({ modules });
    for (const kind of ["source", "converter", "sink"]) {
      await waitForState(orch.url, `my-${kind}`, "READY");
    }
    const cam = await post(orch.url, "/v1/entities", {
      entityType: "my_source",
      name: "Cam",
      configuration: { fps: 25 },
    });
    assert.equal(cam.status, 200, JSON.stringify(cam.body));
    assert.equal(cam.body.entity.module, "my-source");
    const bad = await post(orch.url, "/v1/entities", {
      entityType: "my_sink",
      configuration: { volume: 500 },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /volume: must be <= 100/);
    const tv = await post(orch.url, "/v1/entities", { entityType: "my_sink", name: "TV" });
    assert.equal(tv.status, 200, JSON.stringify(tv.body));

    // A flow source -> converter -> sink: both links are pulled, so each receiver is told
    // the URL its sender serves.
    const flow = await post(orch.url, "/v1/flows", {
      sourceEntityId: "cam",
      targetEntityId: "tv",
    });
    assert.equal(flow.status, 200, JSON.stringify(flow.body));
    assert.equal(flow.body.flow.state, "FLOW_STATE_ACTIVE", flow.body.flow.message);
    const addresses = flow.body.flow.connections.map((c: { address: string }) => c.address);
    assert.equal(addresses[0], "rtsp://127.0.0.1:8554/cam");
    assert.match(addresses[1], /^http:\/\/127\.0\.0\.1:8890\/cam-to-tv-video-1\/index\.m3u8$/);
    await waitFor(
      async () => {
        const res = await fetch(`${orch!.url}/v1/flows/cam-to-tv`);
        const { flow } = await res.json();
        return flow.statuses.length === 3 &&
          flow.statuses.every((s: { state: string }) => s.state === "FLOW_STATE_ACTIVE");
      },
      20_000,
      "every module carrying the flow",
    );
  } finally {
    await orch?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("new module --lang python: three kinds, their unittest, READY, entities and a flow", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-new-" });
  const modules = `${dir}/modules`;
  await Deno.mkdir(modules);
  let orch;
  try {
    for (const kind of ["source", "converter", "sink"]) {
      const r = await cli(
        "new",
        "module",
        `py-${kind}`,
        "--lang",
        "python",
        "--kind",
        kind,
        "--modules",
        modules,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`wrote ${modules}/py-${kind}: README\\.md, main\\.py`));
      const compiled = await run("/usr/bin/python3", [
        "-m",
        "py_compile",
        "main.py",
        "test_main.py",
      ], `${modules}/py-${kind}`);
      assert.equal(compiled.code, 0, compiled.stderr);
    }
    // Its own unittest passes with the SDK on PYTHONPATH, as the README says.
    const own = await new Deno.Command("/usr/bin/python3", {
      args: ["-m", "unittest"],
      cwd: `${modules}/py-sink`,
      env: { PYTHONPATH: `${ROOT}packages/sdk-python` },
      stdin: "null",
    }).output();
    assert.equal(own.code, 0, decoder.decode(own.stderr));
    await Deno.remove(`${modules}/py-sink/__pycache__`, { recursive: true }).catch(() => {});

    const validate = await cli("validate", "--modules", modules);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);

    orch = await startOrchestrator({ modules });
    for (const kind of ["source", "converter", "sink"]) {
      await waitForState(orch.url, `py-${kind}`, "READY");
    }
    const cam = await post(orch.url, "/v1/entities", { entityType: "py_source", name: "Cam" });
    assert.equal(cam.status, 200, JSON.stringify(cam.body));
    const bad = await post(orch.url, "/v1/entities", {
      entityType: "py_source",
      configuration: { fps: 0 },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /fps: must be >= 1/);
    const tv = await post(orch.url, "/v1/entities", { entityType: "py_sink", name: "TV" });
    assert.equal(tv.status, 200, JSON.stringify(tv.body));
    const flow = await post(orch.url, "/v1/flows", { sourceEntityId: "cam", targetEntityId: "tv" });
    assert.equal(flow.status, 200, JSON.stringify(flow.body));
    assert.equal(flow.body.flow.state, "FLOW_STATE_ACTIVE", flow.body.flow.message);
    assert.equal(flow.body.flow.connections.length, 2);
  } finally {
    await orch?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("new module: bad arguments get one line; TypeScript outside a workspace needs --sdk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-new-" });
  try {
    const cases: [string[], number, RegExp][] = [
      [["new", "thing", "x"], 2, /expected "new module NAME", got "new thing"/],
      [["new", "module"], 2, /give the module's NAME/],
      [["new", "module", "Bad_Name!", "--lang", "ts"], 2, /"Bad_Name!" is not a module name/],
      [["new", "module", "x", "--lang", "go"], 2, /--lang: expected ts or python, got "go"/],
      [["new", "module", "x"], 2, /--lang: expected ts or python, got ""/],
      [
        ["new", "module", "x", "--lang", "ts", "--kind", "toaster"],
        2,
        /--kind: expected one of sink, source, converter/,
      ],
      [["new", "module", "x", "--lang", "python", "--sdk", dir], 2, /--sdk goes with --lang ts/],
      [
        ["new", "module", "x", "--lang", "ts", "--modules", dir],
        1,
        /outside a Deno workspace with @callassistant\/sdk: give --sdk DIR/,
      ],
      [
        ["new", "module", "x", "--lang", "ts", "--modules", dir, "--sdk", dir],
        1,
        /--sdk .*: no sdk\/mod\.ts \(a packed SDK\) or packages\/sdk-ts\/mod\.ts/,
      ],
      [
        ["new", "module", "x", "--lang", "python", "--modules", `${dir}/nope`],
        1,
        /nope: no such directory/,
      ],
      [["new", "module", "x", "--bogus"], 2, /unknown option '--bogus'/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line for ${args.join(" ")}:\n${r.stderr}`);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], message);
    }
    // An existing folder is never overwritten.
    await Deno.mkdir(`${dir}/taken`);
    await Deno.writeTextFile(`${dir}/taken/keep.txt`, "mine");
    const taken = await cli("new", "module", "taken", "--lang", "python", "--modules", dir);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /taken already exists/);
    assert.equal(await Deno.readTextFile(`${dir}/taken/keep.txt`), "mine");
    // A clone of the repository works as --sdk too: its workspace resolves the SDK's imports.
    const clone = await cli(
      "new",
      "module",
      "on-clone",
      "--lang",
      "ts",
      "--modules",
      dir,
      "--sdk",
      ROOT,
    );
    assert.equal(clone.code, 0, clone.stderr);
    const map = JSON.parse(await Deno.readTextFile(`${dir}/on-clone/deno.json`));
    assert.match(map.imports["@callassistant/sdk"], /packages\/sdk-ts\/mod\.ts$/);
    const checked = await run(Deno.execPath(), ["check", "main.ts"], `${dir}/on-clone`);
    assert.equal(checked.code, 0, checked.stderr);
    const help = await cli("new", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: call-assistant new module NAME --lang ts\|python/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("new module inside this repository needs no import map: the workspace has the SDK", () => {
  assert.equal(sdkWorkspace(`${ROOT}modules`), ROOT.replace(/\/$/, ""));
  assert.equal(sdkWorkspace(`${ROOT}modules/not-yet-written`), ROOT.replace(/\/$/, ""));
  assert.equal(sdkWorkspace("/tmp"), undefined);
  const files = moduleFiles(moduleSpec("cam", "ts", "source"));
  assert.deepEqual(Object.keys(files).sort(), [
    "README.md",
    "main.ts",
    "main_test.ts",
    "module.yaml",
  ]);
});

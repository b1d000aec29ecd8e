/**
 * Hot reload, dev mode and remote modules with real processes: manifest changes are
 * applied as a diff; a manifest edited into nonsense keeps the module running with the
 * problem shown; `validate --against` prints the plan; `--dev` runs dev_command; a remote
 * module is registered and reconnected, never spawned.
 */
import assert from "node:assert/strict";
import { freePort } from "../helpers/free_ports.ts";
import {
  addBehaving,
  addModule,
  isAlive,
  listModules,
  ROOT,
  startOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";

async function validate(modules: string, against: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${ROOT}main.ts`,
      "validate",
      "--modules",
      modules,
      "--against",
      against,
    ],
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("reload: add, edit, break, remove, each applied as a diff", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addBehaving(dir, "steady", "ok");
  const edited = await addBehaving(dir, "edited", "ok");
  const orch = await startOrchestrator({ modules: dir });
  try {
    const steady = await waitForState(orch.url, "steady", "READY");
    const before = await waitForState(orch.url, "edited", "READY");

    await addBehaving(dir, "added", "ok", "version: '2.0.0'\n");
    await Deno.writeTextFile(edited, (await Deno.readTextFile(edited)) + "version: '1.1.0'\n");

    const added = await waitForState(orch.url, "added", "READY");
    assert.ok(added.pid > 0);
    const after = await waitForState(
      orch.url,
      "edited",
      "READY",
      30_000,
      (m) => m.pid !== before.pid,
    );
    assert.equal(after.version, "1.0.0", "the module reports its own version");
    assert.ok(!isAlive(before.pid), "the edited module's old process is gone");
    assert.equal((await listModules(orch.url)).steady.pid, steady.pid, "steady was not touched");

    // Nonsense: the module keeps running on its last good manifest, the problem is shown.
    await Deno.writeTextFile(edited, "name: edited\ncommand: [unclosed\n");
    const broken = await waitFor(
      async () => {
        const m = (await listModules(orch.url)).edited;
        return /manifest invalid, still running/.test(m.lastError) ? m : undefined;
      },
      10_000,
      "the invalid manifest to be noticed",
    );
    assert.equal(broken.state, "MODULE_STATE_READY");
    assert.equal(broken.pid, after.pid);
    assert.match(broken.lastError, /edited\/module\.yaml:\d+: YAML syntax error/);

    // The orchestrator has seen the broken file: a reload would change nothing.
    const unchanged = await validate(dir, orch.url);
    assert.equal(unchanged.code, 1, unchanged.stdout);
    assert.match(unchanged.stdout, /FAIL edited: .*YAML syntax error/);
    assert.match(unchanged.stdout, /no changes against/);

    // validate --against a changed copy of the directory prints the plan.
    const other = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
    try {
      await new Deno.Command("cp", { args: ["-r", `${dir}/.`, other] }).output();
      await Deno.remove(`${other}/steady`, { recursive: true });
      await addBehaving(other, "edited", "ok", "version: '3.0.0'\n");
      await addBehaving(other, "fresh", "ok");
      const plan = await validate(other, orch.url);
      assert.equal(plan.code, 0, plan.stdout);
      assert.match(plan.stdout, /would start +fresh \(new manifest\)/);
      assert.match(plan.stdout, /would stop +steady \(manifest removed\)/);
      assert.match(plan.stdout, /would restart edited \(manifest changed\)/);
      assert.doesNotMatch(plan.stdout, /would \w+ +added/);
    } finally {
      await Deno.remove(other, { recursive: true });
    }

    // Removed: stopped and gone.
    await Deno.remove(`${dir}/added`, { recursive: true });
    await waitFor(async () => !(await listModules(orch.url)).added, 10_000, "added to be removed");
    assert.ok(!isAlive(added.pid), "the removed module's process is gone");
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dev mode runs dev_command with CALL_ASSISTANT_DEV=1 and the module environment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addModule(
    dir,
    "devmod",
    `command: ["/no/such/production/binary"]\n` +
      `dev_command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/behave.ts"]\n` +
      `env: { BEHAVE: env }\n`,
  );
  const orch = await startOrchestrator({ modules: dir, args: ["--dev"] });
  try {
    const m = await waitForState(orch.url, "devmod", "READY");
    const logs = await (await fetch(`${orch.url}/v1/modules/devmod/logs?tail=50`)).text();
    assert.match(logs, /env CALL_ASSISTANT_DEV=1/);
    assert.match(logs, new RegExp(`env GRPC_PORT=${m.grpcPort}`));
    assert.match(logs, /env MODULE_NAME=devmod/);
    assert.match(logs, /env MODULE_ID=devmod/);
    assert.match(logs, /env MODULE_TOKEN=set/);
    assert.match(
      logs,
      new RegExp(`env ORCHESTRATOR_ADDRESS=${orch.grpcAddress.replaceAll(".", "\\.")}`),
    );
    assert.match(logs, /env MODULE_DATA_DIR=.*\/modules\/devmod/);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a remote module is registered, health-checked and reconnected, never spawned", async () => {
  const port = freePort();
  const startRemote = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${ROOT}tests/fixtures/behave.ts`],
      env: { GRPC_PORT: String(port), MODULE_NAME: "remote", BEHAVE: "ok" },
      stdin: "piped",
      stderr: "null",
    }).spawn();
  let remote = startRemote();
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addModule(
    dir,
    "remote",
    `address: "127.0.0.1:${port}"\nhealth: { interval: 200ms, timeout: 300ms, failure_threshold: 1, start_grace: 0 }\n` +
      `restart: { backoff: { initial: 100ms, max: 300ms }, limit: 1 }\n`,
  );
  const orch = await startOrchestrator({ modules: dir });
  try {
    const m = await waitForState(orch.url, "remote", "READY");
    assert.equal(m.pid, 0, "never spawned");
    assert.equal(m.grpcPort, port);
    assert.equal(m.address, `127.0.0.1:${port}`);
    remote.kill("SIGKILL");
    await remote.status;
    await waitFor(
      async () => {
        const s = (await listModules(orch.url)).remote.state;
        return s === "MODULE_STATE_BACKOFF" || s === "MODULE_STATE_STARTING";
      },
      10_000,
      "the lost remote module to be retried",
    );
    // Past the restart limit a remote module is still retried, never parked in FAILED.
    remote = startRemote();
    await waitForState(orch.url, "remote", "READY", 30_000);
  } finally {
    await orch.stop();
    remote.kill("SIGKILL");
    await remote.status;
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * `user:` and `group:` in a manifest: refused clearly unless the orchestrator is root;
 * as root, the module's processes run as that user with its groups, get their token on
 * standard input across the switch, and own their data directory.
 */
import assert from "node:assert/strict";
import { resolveRunAs } from "../../src/supervisor/run_as.ts";
import { parseManifest } from "../../src/manifest/parse.ts";
import {
  addModule,
  startOrchestrator,
  waitFor,
  waitForState,
} from "../helpers/test_orchestrator.ts";

Deno.test("run as: only as root, for existing users and groups, never for remote modules", () => {
  assert.throws(
    () => resolveRunAs("nobody", "", 1000),
    /user: nobody needs the orchestrator to run as root \(it runs as uid 1000\)/,
  );
  assert.throws(() => resolveRunAs("no-such-user-7", "", 0), /no user "no-such-user-7"/);
  assert.throws(() => resolveRunAs("nobody", "no-such-group-7", 0), /no group "no-such-group-7"/);
  const nobody = resolveRunAs("nobody", "", 0);
  assert.equal(nobody.uid, 65534);
  assert.deepEqual(nobody.prefix.slice(0, 1), ["setpriv"]);
  assert.ok(nobody.prefix.includes("--init-groups"));
  const remote = parseManifest(
    'name: r\naddress: "127.0.0.1:5000"\nuser: nobody\n',
    "/m/r/module.yaml",
  );
  assert.ok(!remote.ok && remote.problems[0].field === "user");
  const lonely = parseManifest("name: g\ncommand: x\ngroup: video\n", "/m/g/module.yaml");
  assert.ok(!lonely.ok && /goes with "user"/.test(lonely.problems[0].message));
});

Deno.test("run as: a module runs as its user, gets its token and owns its data", async () => {
  if (Deno.uid() !== 0) {
    console.log("SKIPPED: running a module as another user needs root");
    return;
  }
  // A root directory other users cannot search (mode 700, as a root unpacked from a private
  // temporary directory has) stops every program another user starts: no system is set up so.
  if (((await Deno.stat("/")).mode! & 0o001) === 0) {
    console.log("SKIPPED: / is not searchable by other users on this machine");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  // The module's user must be able to reach its data directory.
  await Deno.chmod(data, 0o711);
  await addModule(
    dir,
    "jailed",
    `command: ["/bin/sh", "-c", "read line; echo got=\${line%%=*} uid=$(id -u) gid=$(id -g); ` +
      `touch \\"$MODULE_DATA_DIR/mine\\" && echo data=ok; exec sleep 600"]\n` +
      `user: nobody\ngroup: nogroup\nstart_timeout: 60s\nstop_timeout: 1s\n`,
  );
  const orch = await startOrchestrator({ modules: dir, data });
  try {
    const m = await waitForState(orch.url, "jailed", "STARTING", 10_000, (x) => x.pid > 0);
    let seen = "";
    const logs = await waitFor(
      async () => {
        const text = await (await fetch(`${orch.url}/v1/modules/jailed/logs?tail=20`)).text();
        seen = text;
        return text.includes("data=ok") ? text : undefined;
      },
      10_000,
      "the module's output",
    ).catch((e) => {
      throw new Error(`${e.message}; its log so far: ${seen}`);
    });
    assert.match(logs, /got=MODULE_TOKEN uid=65534 gid=65534/);
    const status = await Deno.readTextFile(`/proc/${m.pid}/status`);
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.equal((await Deno.stat(`${data}/modules/jailed/mine`)).uid, 65534);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

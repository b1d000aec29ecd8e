/**
 * Concurrent configuration writers: of two PUTs with the same `expectedRevision` one wins
 * (200) and the other gets 409, and the module always runs the stored current revision,
 * never the rejected one (the fixture logs every configuration it is sent).
 */
import assert from "node:assert/strict";
import { addModule, ROOT, startOrchestrator, waitForState } from "../helpers/test_orchestrator.ts";

const ROUNDS = 15;
const WRITERS = 3;

function put(url: string, host: string, expectedRevision: number) {
  return fetch(`${url}/v1/modules/conf/config`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ config: { host }, expectedRevision: String(expectedRevision) }),
  }).then(async (res) => ({ status: res.status, body: await res.json() }));
}

/** The host of the last configuration the module logged receiving. */
async function runningHost(url: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/v1/modules/conf/logs?tail=200`)).text();
  const hosts = [...text.matchAll(/configured revision \d+ host=(\S+)/g)].map((m) => m[1]);
  return hosts.at(-1);
}

Deno.test("config: concurrent writers, the module runs exactly the stored revision", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addModule(
    dir,
    "conf",
    `command: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitForState(orch.url, "conf", "WAITING_FOR_CONFIG");
    let revision = 0;
    const mismatches: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all(
        Array.from({ length: WRITERS }, (_, w) => put(orch.url, `r${round}-w${w}`, revision)),
      );
      const winners = answers.filter((a) => a.status === 200);
      assert.equal(winners.length, 1, JSON.stringify(answers));
      for (const a of answers) {
        if (a.status !== 200) assert.equal(a.status, 409, JSON.stringify(a.body));
      }
      revision = Number(winners[0].body.current.revision);
      assert.equal(revision, round + 1);
      const stored = await (await fetch(`${orch.url}/v1/modules/conf/config`)).json();
      assert.equal(stored.current.config.host, winners[0].body.current.config.host);
      // Log lines arrive asynchronously: give the module's output a moment.
      await new Promise((r) => setTimeout(r, 100));
      const running = await runningHost(orch.url);
      if (running !== stored.current.config.host) {
        mismatches.push(`round ${round}: stored ${stored.current.config.host}, running ${running}`);
      }
    }
    assert.deepEqual(mismatches, [], "the module runs a configuration that was refused");
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

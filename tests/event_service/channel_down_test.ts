/**
 * `module.event_channel_down` names the real reason: after a `kill -9` of the module it says
 * the process was killed (not "the module is stopping"); after a stop by hand it says the
 * module is stopping.
 */
import assert from "node:assert/strict";
import { addCamera, startOrchestrator, waitForState } from "../helpers/test_orchestrator.ts";

type Event = { id: string; type: string; module: string; message: string; severity: string };

/** Reads the event history (and new events) until `match` finds one, within 20 s. */
async function findEvent(url: string, match: (e: Event) => boolean): Promise<Event> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 20_000);
  try {
    const res = await fetch(`${url}/v1/events?afterId=0&types=module.event_channel_*`, {
      headers: { accept: "application/x-ndjson" },
      signal: abort.signal,
    });
    let buffer = "";
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        const event = JSON.parse(line).event as Event | undefined;
        if (event && match(event)) return event;
      }
    }
    throw new Error("the event stream ended");
  } catch (err) {
    throw new Error(`no matching event within 20 s: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

Deno.test("event_channel_down after kill -9 says the process was killed; after a stop, stopping", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir });
  try {
    const first = await waitForState(orch.url, "test-camera", "READY");
    await findEvent(orch.url, (e) => e.type === "module.event_channel_up");
    Deno.kill(first.pid, "SIGKILL");
    const down = await findEvent(orch.url, (e) => e.type === "module.event_channel_down");
    assert.equal(down.module, "test-camera");
    assert.equal(down.severity, "SEVERITY_WARNING");
    assert.match(
      down.message,
      new RegExp(`process \\(pid ${first.pid}\\) ended: killed by SIGKILL`),
    );
    assert.doesNotMatch(down.message, /stopping/);

    // Back after the restart; a stop by hand is a stop, said as such.
    const second = await waitForState(
      orch.url,
      "test-camera",
      "READY",
      30_000,
      (m) => m.pid !== first.pid,
    );
    await findEvent(
      orch.url,
      (e) => e.type === "module.event_channel_up" && Number(e.id) > Number(down.id),
    );
    const stop = await fetch(`${orch.url}/v1/modules/test-camera:stop`, { method: "POST" });
    assert.equal(stop.status, 200, await stop.text());
    const stopped = await findEvent(
      orch.url,
      (e) => e.type === "module.event_channel_down" && Number(e.id) > Number(down.id),
    );
    assert.equal(stopped.severity, "SEVERITY_INFO", stopped.message);
    assert.doesNotMatch(stopped.message, /killed/);
    assert.ok(second.pid > 0);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

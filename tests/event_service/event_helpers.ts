/**
 * Helpers of the event, tracing and metrics tests: the reporting fixture module, driving
 * it, and reading Server-Sent Events.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { EntityService } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { getJson, ROOT } from "../helpers/test_orchestrator.ts";

/** Writes a module.yaml running the reporting fixture as `name`, with `env`. */
export async function addReporter(
  modulesDir: string,
  name = "reporter",
  env: Record<string, string> = {},
): Promise<void> {
  await Deno.mkdir(`${modulesDir}/${name}`, { recursive: true });
  const envYaml = Object.keys(env).length
    ? `env:\n${Object.entries(env).map(([k, v]) => `  ${k}: "${v}"`).join("\n")}\n`
    : "";
  await Deno.writeTextFile(
    `${modulesDir}/${name}/module.yaml`,
    `name: ${name}\nversion: "1.0.0"\ncommand: ["deno", "run", "--allow-all", ` +
      `"${ROOT}tests/event_service/fixtures/reporter.ts"]\n${envYaml}`,
  );
}

/** The module as the gateway shows it. */
export async function moduleInfo(url: string, name: string): Promise<Record<string, unknown>> {
  const { body } = await getJson(`${url}/v1/modules/${name}`);
  return body.module as Record<string, unknown>;
}

/** Sends an action to the reporting fixture (directly on its gRPC port); returns its answer. */
export async function drive(
  url: string,
  name: string,
  action: JsonObject,
  headers: Record<string, string> = {},
): Promise<JsonObject> {
  const port = (await moduleInfo(url, name)).grpcPort as number;
  const client = createClient(EntityService, `127.0.0.1:${port}`);
  try {
    const res = await client.createEntity({
      entityId: `ctl-${crypto.randomUUID().slice(0, 8)}`,
      entityType: "control",
      configuration: action,
    }, { timeoutMs: 60_000, headers });
    return (res.entity?.configuration ?? {}) as JsonObject;
  } finally {
    client.close();
  }
}

/** One Server-Sent Event. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Reads Server-Sent Events from a response body. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  let buffer = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: SseEvent = { data: "" };
      let hasData = false;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "id") e.id = value;
        else if (field === "event") e.event = value;
        else if (field === "data") {
          e.data += (hasData ? "\n" : "") + value;
          hasData = true;
        }
      }
      if (hasData) yield e;
    }
  }
}

/** Opens an SSE stream of `/v1/events`; `close()` disconnects. */
export async function openEvents(
  url: string,
  query = "",
  headers: Record<string, string> = {},
): Promise<{ events: AsyncGenerator<SseEvent>; close: () => Promise<void> }> {
  const abort = new AbortController();
  const res = await fetch(`${url}/v1/events${query}`, {
    headers: { accept: "text/event-stream", ...headers },
    signal: abort.signal,
  });
  if (res.status !== 200) throw new Error(`GET /v1/events: ${res.status} ${await res.text()}`);
  const events = sseEvents(res.body!);
  return {
    events,
    close: async () => {
      abort.abort();
      await events.return(undefined).catch(() => {});
      await res.body?.cancel().catch(() => {});
    },
  };
}

/** Reads SSE items until `n` events (not gap markers) matched `keep`; returns them. */
export async function take(
  events: AsyncGenerator<SseEvent>,
  n: number,
  keep: (e: { id?: string; event: Record<string, unknown> }) => boolean = () => true,
): Promise<{ id?: string; event: Record<string, unknown> }[]> {
  const out: { id?: string; event: Record<string, unknown> }[] = [];
  while (out.length < n) {
    const next = await events.next();
    if (next.done) throw new Error(`the stream ended after ${out.length} of ${n} events`);
    const item = JSON.parse(next.value.data);
    if (!item.event) continue;
    const e = { id: next.value.id, event: item.event };
    if (keep(e)) out.push(e);
  }
  return out;
}

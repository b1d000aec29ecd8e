/**
 * Helpers of the media watchdog's tests: manifests running the media simulator fixture
 * (`tests/fixtures/media-sim/main.ts`) with a script, and the orchestrator's events read
 * from its NDJSON event stream.
 */
import { ROOT } from "../helpers/test_orchestrator.ts";

/** Writes `<dir>/<name>/module.yaml` running the simulator with `env`. */
export async function addSim(
  dir: string,
  name: string,
  env: Record<string, string | number>,
  extra = "",
): Promise<void> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  const vars = Object.entries(env).map(([k, v]) => `${k}: "${v}"`).join(", ");
  await Deno.writeTextFile(
    `${dir}/${name}/module.yaml`,
    `name: ${name}\ncommand: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/media-sim/main.ts"]\n` +
      `env: { ${vars} }\n${extra}`,
  );
}

/** An event as the gateway streams it. */
export interface StreamedEvent {
  id: string;
  /** RFC 3339, the orchestrator's clock. */
  time: string;
  type: string;
  severity: string;
  module?: string;
  flowId?: string;
  entityId?: string;
  message: string;
  // deno-lint-ignore no-explicit-any
  data?: any;
}

/** The orchestrator's events from now on, collected until `close`. */
export function collectEvents(url: string): { events: StreamedEvent[]; close(): Promise<void> } {
  const events: StreamedEvent[] = [];
  const abort = new AbortController();
  const done = (async () => {
    try {
      const res = await fetch(`${url}/v1/events`, {
        headers: { accept: "application/x-ndjson" },
        signal: abort.signal,
      });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        const parts = text.split("\n");
        text = parts.pop()!;
        for (const p of parts.filter(Boolean)) {
          const line = JSON.parse(p);
          if (line.event) events.push(line.event);
        }
      }
    } catch {
      // Closed.
    }
  })();
  return {
    events,
    async close() {
      abort.abort();
      await done;
    },
  };
}

/** The events of one flow with `type`. */
export function eventsOf(events: StreamedEvent[], flowId: string, type: string): StreamedEvent[] {
  return events.filter((e) => e.flowId === flowId && e.type === type);
}

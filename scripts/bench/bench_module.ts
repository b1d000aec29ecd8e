/**
 * The SDK module the benchmarks run, its behaviour picked by BENCH_MODE:
 * - "minimal" (default): serves the three services with the SDK defaults, no entity types;
 * - "ticker": also reports BENCH_EVENT_RATE events per second (default 20), each
 *   carrying the wall-clock time it was sent (`data.sentAt`, ms with fractions);
 * - "catalog": declares BENCH_TYPES converter types (default 1000) and discovers
 *   BENCH_ENTITIES entities (default 10 000), for path-finding at scale (see catalog.ts);
 * - "flood": writes its module token to `$BENCH_RESULT.token`; then for each round N
 *   waits for `$BENCH_RESULT.go.N` (JSON `{seconds, window, warmup}`), reports events
 *   through the SDK (the Connect stream) with `window` reports in flight for `warmup` s
 *   and then `seconds` measured, and writes `{eventsPerSecond, acked, failed}` to
 *   `$BENCH_RESULT.N`; `{close: true}` closes its reporter instead (leaving the stream to
 *   the benchmark's own clients); `{exec: argv}` runs argv as its own child (the
 *   orchestrator accepts the module's token only from the module's processes: the
 *   benchmark's raw clients run this way) and writes `{output: [lines]}`.
 */
import { HealthState, serveModule } from "@callassistant/sdk";
import { catalog } from "./catalog.ts";

const mode = Deno.env.get("BENCH_MODE") ?? "minimal";
const number = (name: string, fallback: number) => Number(Deno.env.get(name) ?? fallback);

if (mode === "catalog") {
  const cat = catalog(number("BENCH_TYPES", 1000), number("BENCH_ENTITIES", 10_000));
  await serveModule({
    info: { version: "1.0.0", description: "benchmark catalog" },
    capabilities: cat.capabilities,
    entity: {
      listEntities: () => ({ entities: cat.entities }),
      getEntityStatus: (req) => ({
        status: { entityId: req.entityId, state: 2, message: "ok" },
      }),
    },
  });
} else {
  const mod = await serveModule({
    info: { version: "1.0.0", description: `benchmark module (${mode})` },
    capabilities: [],
    module: { healthCheck: () => ({ state: HealthState.READY, message: "" }) },
  });
  if (mode === "flood") await flood(mod.env.token, mod.events);
  if (mode === "ticker") {
    const rate = number("BENCH_EVENT_RATE", 20);
    let n = 0;
    setInterval(() => {
      n++;
      void mod.events.report("bench.tick", {
        message: `tick ${n}`,
        data: { n, sentAt: performance.timeOrigin + performance.now() },
      });
    }, 1000 / rate);
  }
}

async function flood(
  token: string,
  events: {
    report(type: string, o: { message: string }): Promise<bigint | undefined>;
    close(): void;
  },
) {
  const result = Deno.env.get("BENCH_RESULT")!;
  await Deno.writeTextFile(`${result}.token`, token);
  for (let round = 0;; round++) {
    let go:
      | { seconds: number; window: number; warmup: number; close?: boolean; exec?: string[] }
      | undefined;
    while (!go) {
      await new Promise((r) => setTimeout(r, 20));
      go = await Deno.readTextFile(`${result}.go.${round}`).then(JSON.parse, () => undefined);
    }
    if (go.close) {
      // The stream is left to the benchmark's own clients, which report with this token.
      events.close();
      await Deno.writeTextFile(`${result}.${round}`, "{}");
      continue;
    }
    if (go.exec) {
      const [cmd, ...args] = go.exec;
      const out = await new Deno.Command(cmd, { args, stdin: "null", stderr: "inherit" })
        .output();
      const output = new TextDecoder().decode(out.stdout).split("\n");
      await Deno.writeTextFile(`${result}.${round}`, JSON.stringify({ output }));
      continue;
    }
    const { seconds, window, warmup } = go;
    let acked = 0;
    let failed = 0;
    const run = async (until: number) => {
      await Promise.all(Array.from({ length: window }, async () => {
        while (performance.now() < until) {
          const id = await events.report("bench.flood", { message: "flood" });
          if (id === undefined) failed++;
          else acked++;
        }
      }));
    };
    await run(performance.now() + warmup * 1000);
    acked = failed = 0;
    const t0 = performance.now();
    await run(t0 + seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    await Deno.writeTextFile(
      `${result}.${round}`,
      JSON.stringify({ eventsPerSecond: acked / elapsed, acked, failed }),
    );
  }
}

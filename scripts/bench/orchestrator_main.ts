/**
 * The orchestrator as `main.ts run` starts it, with one difference for the event-ingest
 * benchmark: the per-module flood control (default 100 events/s, bursts of 200) is
 * raised to BENCH_EVENT_RATE events/s (default 1 000 000), which the CLI does not expose.
 * Flags: --modules DIR --data DIR --grpc HOST:PORT --http HOST:PORT (JSON logs to stderr,
 * no log file). Stops on SIGTERM/SIGINT.
 */
import { parseArgs } from "node:util";
import { parseAddress } from "../../src/cli/address.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startOrchestrator } from "../../src/orchestrator.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    modules: { type: "string" },
    data: { type: "string" },
    grpc: { type: "string" },
    http: { type: "string" },
    "log-format": { type: "string" },
  },
});
const rate = Number(Deno.env.get("BENCH_EVENT_RATE") ?? 1_000_000);
const logger = createLogger("json", "info");
const orchestrator = await startOrchestrator({
  modulesDir: values.modules!,
  dataDir: values.data!,
  grpc: parseAddress("grpc", values.grpc ?? "127.0.0.1:0"),
  http: parseAddress("http", values.http ?? "127.0.0.1:0"),
  dev: false,
  logger,
  eventRate: { perSecond: rate, burst: rate },
});
const { promise, resolve } = Promise.withResolvers<string>();
Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
await orchestrator.stop(`received ${await promise}`);
await logger.close();
Deno.exit(0);

/**
 * Benchmark: many small messages on one stream, with the client channel option
 * `grpc.per_rpc_retry_buffer_size: 0` (our CHANNEL_OPTIONS) and with grpc-js's defaults
 * (retries on, a 256 KiB per-call retry buffer). Prints the times and their ratios. The
 * server runs in a separate process, as the orchestrator does. Two servers:
 * - "connect": the orchestrator's EventService, which sends response headers at once
 *   (the `traceparent`) and acks every message;
 * - "sink": a server that answers only when the stream ends (an upload), so grpc-js
 *   keeps every message in its retry buffer until then: the case the option is for.
 *
 *   deno run -A scripts/bench/retry_buffer.ts [messages=20000] [limitSeconds=120]
 */
import * as grpc from "@grpc/grpc-js";
import { EventBus } from "../../src/events/event_bus.ts";
import { createEventService } from "../../src/event_service/event_service.ts";
import { AsyncQueue } from "../../src/async/async_queue.ts";
import { type ConnectRequestSchema, EventService } from "@callassistant/protocol";
import { Logger } from "../../src/log/logger.ts";
import { ModuleRecord } from "../../src/modules/module_record.ts";
import { ModuleRegistry } from "../../src/modules/module_registry.ts";
import { createClient } from "@callassistant/rpc";
import { addService, grpcDefinition } from "@callassistant/rpc";
import type { MessageInitShape } from "@bufbuild/protobuf";

const TOKEN = "bench-token";

async function serve(): Promise<void> {
  const bus = new EventBus(1000);
  const logger = new Logger({ level: "error", format: "json", sinks: [() => {}] });
  const registry = new ModuleRegistry(bus, logger);
  registry.add(new ModuleRecord("bench", undefined, "/bench/module.yaml")).token = TOKEN;
  const service = createEventService({
    registry,
    bus,
    eventRate: { perSecond: 1e9, burst: 1e9 },
    heartbeatTimeoutMs: 600_000,
  });
  const server = new grpc.Server();
  addService(server, EventService, service.impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (err, p) => err ? reject(err) : resolve(p),
    )
  );
  // The sink: reads everything, answers once at the end.
  const sink = new grpc.Server();
  sink.addService(grpcDefinition(EventService), {
    connect: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      let n = 0n;
      call.on("data", () => n++);
      call.on("end", () => {
        call.write({ payload: { case: "ack", value: { sequence: n } } });
        call.end();
      });
    },
  });
  const sinkPort = await new Promise<number>((resolve, reject) =>
    sink.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (err, p) => err ? reject(err) : resolve(p),
    )
  );
  console.log(`PORT ${port} ${sinkPort}`);
  // Runs until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  server.forceShutdown();
  sink.forceShutdown();
}

/** Sends `n` small events on one stream and waits for every ack; returns seconds. */
async function run(
  address: string,
  n: number,
  options: grpc.ChannelOptions,
  limitMs: number,
  sink = false,
): Promise<{ seconds: number; acked: number; complete: boolean }> {
  const client = createClient(EventService, address, { channel: options });
  const requests = new AsyncQueue<MessageInitShape<typeof ConnectRequestSchema>>();
  const abort = new AbortController();
  const started = performance.now();
  const timer = setTimeout(() => abort.abort(), limitMs);
  let acked = 0;
  try {
    const responses = client.connect(requests, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: abort.signal,
    });
    for (let i = 1; i <= n; i++) {
      requests.push({
        sequence: BigInt(i),
        payload: { case: "event", value: { type: "bench.tick", message: `tick ${i}` } },
      });
    }
    if (sink) requests.close();
    for await (const r of responses) {
      if (r.payload.case === "ack") acked = sink ? Number(r.payload.value.sequence) : acked + 1;
      if (acked >= n) break;
    }
  } catch {
    // Aborted at the limit.
  } finally {
    clearTimeout(timer);
    requests.close();
    abort.abort();
    client.close();
  }
  return { seconds: (performance.now() - started) / 1000, acked, complete: acked >= n };
}

if (Deno.args[0] === "--server") {
  await serve();
} else {
  const n = Number(Deno.args[0] ?? 20_000);
  const limitMs = Number(Deno.args[1] ?? 120) * 1000;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--server"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/PORT (\d+) (\d+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the server did not start");
    out += value;
  }
  const [, port, sinkPort] = /PORT (\d+) (\d+)/.exec(out)!;
  const defaults = { "grpc.per_rpc_retry_buffer_size": 256 * 1024, "grpc.enable_retries": 1 };
  const show = (r: Awaited<ReturnType<typeof run>>) =>
    `${r.seconds.toFixed(2)} s (${r.acked}/${n}${r.complete ? "" : ", stopped at the limit"}, ` +
    `${Math.round(r.acked / r.seconds)} msg/s)`;
  try {
    console.log(`messages per stream: ${n}`);
    for (
      const [name, address, sink] of [
        ["connect", `127.0.0.1:${port}`, false],
        ["sink", `127.0.0.1:${sinkPort}`, true],
      ] as const
    ) {
      await run(address, 500, {}, limitMs, sink); // warm-up
      // Interleaved twice (A B B A), the faster of each kept, so drift and GC even out.
      const best = (a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>) =>
        a.seconds <= b.seconds ? a : b;
      const a1 = await run(address, n, {}, limitMs, sink);
      const b1 = await run(address, n, defaults, limitMs, sink);
      const b2 = await run(address, n, defaults, limitMs, sink);
      const a2 = await run(address, n, {}, limitMs, sink);
      const withOption = best(a1, a2);
      const withoutOption = best(b1, b2);
      const ratio = withoutOption.seconds / withOption.seconds;
      console.log(`${name}: retry buffer 0 (CHANNEL_OPTIONS): ${show(withOption)}`);
      console.log(`${name}: grpc-js defaults:                 ${show(withoutOption)}`);
      console.log(
        `${name}: ratio (defaults / retry buffer 0): ${ratio.toFixed(1)}x${
          withoutOption.complete ? "" : " (at least: the default run hit the limit)"
        }`,
      );
    }
  } finally {
    await child.stdin.close();
    await reader.cancel();
    await child.status;
  }
}

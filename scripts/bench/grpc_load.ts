/**
 * The raw grpc-js baseline: a bare `@grpc/grpc-js` client (no wrapper of ours) calling one
 * unary method with `concurrency` calls in flight for `seconds`, after `warmupSeconds`.
 * Argument: JSON `{address, service, method, request, concurrency, seconds, warmupSeconds,
 * metadata?}` where service is a generated service name (e.g. "EntityService").
 * With `watch: {name: pid}`, also the CPU share (1 = one core) of those processes and of
 * itself ("client") during the measured run.
 * Prints one JSON line: `{requestsPerSecond, p50Ms, p99Ms, requests, errors, cpu}`.
 */
import { create, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { EntityService } from "@callassistant/protocol";
import { EventService } from "@callassistant/protocol";
import { ModuleService } from "@callassistant/protocol";
import { cpuSeconds, machineTicks } from "./resources.ts";
import { percentile } from "./stats.ts";

const SERVICES: Record<string, DescService> = { EntityService, EventService, ModuleService };

const config = JSON.parse(Deno.args[0]);
const service = SERVICES[config.service];
const method = service.methods.find((m) => m.name === config.method)!;
const path = `/${service.typeName}/${method.name}`;
const bytes = Buffer.from(toBinary(method.input, create(method.input, config.request)));
const client = new grpc.Client(config.address, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
for (const [k, v] of Object.entries(config.metadata ?? {})) metadata.set(k, String(v));

function call(): Promise<void> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Uint8Array) => fromBinary(method.output, b),
      bytes,
      metadata,
      (err) => err ? reject(err) : resolve(),
    );
  });
}

let firstError: string | undefined;

async function load(seconds: number, latencies: number[] | undefined) {
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await call();
        requests++;
        latencies?.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  return { requests, errors, elapsed: (performance.now() - t0) / 1000 };
}

await new Promise<void>((resolve, reject) =>
  client.waitForReady(Date.now() + 10_000, (err) => err ? reject(err) : resolve())
);
if (config.warmupSeconds > 0) await load(config.warmupSeconds, undefined);
const latencies: number[] = [];
const watch: Record<string, number> = { client: Deno.pid, ...(config.watch ?? {}) };
const before = Object.fromEntries(Object.entries(watch).map(([k, pid]) => [k, cpuSeconds(pid)]));
const m0 = machineTicks();
const r = await load(config.seconds, latencies);
const m1 = machineTicks();
const cpu = Object.fromEntries(
  Object.entries(watch).map(([k, pid]) => [k, (cpuSeconds(pid) - before[k]) / r.elapsed]),
);
cpu.machine = ((m1.busy - m0.busy) / (m1.total - m0.total)) * navigator.hardwareConcurrency;
client.close();
console.log(JSON.stringify({
  requestsPerSecond: r.requests / r.elapsed,
  p50Ms: percentile(latencies, 50),
  p99Ms: percentile(latencies, 99),
  requests: r.requests,
  errors: r.errors,
  firstError,
  cpu,
}));
Deno.exit(0);

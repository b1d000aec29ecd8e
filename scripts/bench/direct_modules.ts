/**
 * Modules without the orchestrator: started directly as it would start them, and probed
 * with a raw HealthCheck (the baselines of the cold-start and recovery benchmarks).
 */
import { DENO, type Proc, spawn } from "../../tests/helpers/processes.ts";
import { freePort, freePorts } from "../../tests/helpers/free_ports.ts";
import { BENCH_MODULE } from "./module_dirs.ts";

/** One HealthCheck to a module on 127.0.0.1:`port` with a raw grpc-js client (fresh channel). */
export async function healthCheck(port: number, timeoutMs = 2000): Promise<void> {
  const grpc = await import("@grpc/grpc-js");
  const { ModuleService } = await import("@callassistant/protocol");
  const { create, toBinary, fromBinary } = await import("@bufbuild/protobuf");
  const { Buffer } = await import("node:buffer");
  const method = ModuleService.method.healthCheck;
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    "grpc.initial_reconnect_backoff_ms": 10,
  });
  try {
    await new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(
        `/${ModuleService.typeName}/${method.name}`,
        () => Buffer.from(toBinary(method.input, create(method.input, {}))),
        (b: Uint8Array) => fromBinary(method.output, b),
        {},
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + timeoutMs },
        (err) => err ? reject(err) : resolve(),
      )
    );
  } finally {
    client.close();
  }
}

/**
 * Starts `count` minimal SDK modules directly (no orchestrator) in parallel, as the
 * orchestrator would (own process group, stdin a pipe, GRPC_PORT set), and resolves with
 * the time from the first spawn until every one has answered a HealthCheck. The modules
 * are stopped afterwards.
 */
export async function startModulesDirectly(count: number, mode = "minimal"): Promise<number> {
  const procs: Proc[] = [];
  const picked = freePorts(count);
  let stopping = false;
  const startOne = (i: number, port: number, retry: boolean): Promise<void> => {
    let listening: () => void;
    const up = new Promise<void>((r) => listening = r);
    const proc = spawn(DENO, ["run", "--allow-all", BENCH_MODULE], {
      env: {
        ...Deno.env.toObject(),
        GRPC_PORT: String(port),
        MODULE_NAME: `direct-${i}`,
        BENCH_MODE: mode,
      },
      stdin: "piped",
      onStderr: (line) => {
        if (line.startsWith("listening on")) listening();
      },
    });
    procs.push(proc);
    let answered = false;
    return Promise.race([
      up.then(() => healthCheck(port)).then(() => {
        answered = true;
      }),
      proc.status.then((s) => {
        if (answered || stopping) return;
        // Another process of the machine took the port in between: once more, elsewhere.
        if (retry) return startOne(i, freePort(), false);
        throw new Error(`module exited with ${s.code} before listening on ${port}`);
      }),
    ]);
  };
  const t0 = performance.now();
  try {
    await Promise.all(picked.map((port, i) => startOne(i, port, true)));
    return performance.now() - t0;
  } finally {
    stopping = true;
    await Promise.all(procs.map((p) => p.stop(3000)));
  }
}

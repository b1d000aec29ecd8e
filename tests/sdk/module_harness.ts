/**
 * Test helpers: real module processes on free ports, and a real EventService.
 * No mocks and no fixed sleeps: waits are on process output, process status or RPCs,
 * each bounded by a timeout.
 */
import * as grpc from "@grpc/grpc-js";
import { bindLoopback } from "../helpers/grpc.ts";
import { freePort } from "../helpers/free_ports.ts";
import { fileURLToPath } from "node:url";
import { EventService } from "@callassistant/protocol";
import type {
  ReportEventRequest,
  ReportMetricsRequest,
  ReportStatusRequest,
} from "@callassistant/protocol";
import { addService, stopServer } from "@callassistant/rpc";
import type { PartialServiceImpl } from "@callassistant/rpc";

export const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const CAMERA_DIR = fileURLToPath(
  new URL("../fixtures/simulators/test-camera/", import.meta.url),
);
export const FIXTURES_DIR = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** Rejects with `what` when `promise` takes longer than `ms`; never leaves a timer behind. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export { freePort };

/** Variables a test process must not inherit from the environment it runs in. */
const MODULE_VARS = [
  "GRPC_PORT",
  "MODULE_ID",
  "MODULE_NAME",
  "ORCHESTRATOR_ADDRESS",
  "MODULE_TOKEN",
  "MODULE_TOKEN_STDIN",
  "MODULE_DATA_DIR",
  "CALL_ASSISTANT_DEV",
];

export interface StartOptions {
  /** The script to run, relative to `cwd` (default "main.ts" of the test camera). */
  script?: string;
  /** The working directory (default the test camera's). */
  cwd?: string;
  /** Module variables; `undefined` leaves one out. GRPC_PORT defaults to a free port. */
  env?: Record<string, string | undefined>;
  /** Standard input (default "piped", as the orchestrator does). */
  stdin?: "piped" | "null";
  /** Written to standard input right after the start (e.g. the token line), kept open. */
  stdinText?: string;
  /** Wait for "listening on" before returning (default true). */
  waitListening?: boolean;
}

/** A module process started by a test. Always `stop()` it in a `finally`. */
export class ModuleProcess {
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  exitStatus: Deno.CommandStatus | undefined;
  readonly #readers: Promise<void>[];
  #waiters = new Set<() => void>();

  constructor(
    readonly child: Deno.ChildProcess,
    readonly port: number,
    readonly dataDir: string,
  ) {
    this.status = child.status.then((status) => {
      this.exitStatus = status;
      return status;
    });
    this.#readers = [this.#read(child.stdout, "out"), this.#read(child.stderr, "err")];
  }

  async #read(stream: ReadableStream<Uint8Array>, tag: string): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) this.lines.push(`${tag}: ${line}`);
      this.#waiters.forEach((wake) => wake());
    }
    if (rest) this.lines.push(`${tag}: ${rest}`);
    this.#waiters.forEach((wake) => wake());
  }

  /** Everything the process wrote so far, one line per output line. */
  get output(): string {
    return this.lines.join("\n");
  }

  /** Waits for an output line containing `text`; fails early if the process exits. */
  waitForLine(text: string, timeoutMs = 30_000): Promise<string> {
    const found = () => this.lines.find((line) => line.includes(text));
    const wait = new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = found();
        if (line !== undefined) {
          this.#waiters.delete(check);
          resolve(line);
        } else if (this.exitStatus) {
          this.#waiters.delete(check);
          reject(
            new Error(
              `process exited (code ${this.exitStatus.code}) before "${text}":\n${this.output}`,
            ),
          );
        }
      };
      this.#waiters.add(check);
      this.status.then(() => Promise.all(this.#readers)).then(check);
      check();
    });
    return withTimeout(wait, timeoutMs, `"${text}" in the output of:\n${this.output}`);
  }

  /** Waits for the process to exit and for its output to end. */
  async waitForExit(timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    const status = await withTimeout(this.status, timeoutMs, `exit of the module:\n${this.output}`);
    await Promise.all(this.#readers);
    return status;
  }

  /** Closes the process's standard input, as a dying orchestrator does. */
  async closeStdin(): Promise<void> {
    await this.child.stdin.close();
  }

  /** Kills the process if it still runs and waits for it and its output. */
  async stop(): Promise<void> {
    if (!this.exitStatus) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.status;
    await Promise.all(this.#readers);
    try {
      await this.child.stdin.close();
    } catch {
      // Already closed, or stdin was not piped.
    }
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }
}

/** Starts a module process the way the orchestrator does, and waits until it listens. */
export async function startModule(options: StartOptions = {}): Promise<ModuleProcess> {
  const port = freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "sdk-test-" });
  const env: Record<string, string> = Deno.env.toObject();
  for (const name of MODULE_VARS) delete env[name];
  const wanted: Record<string, string | undefined> = {
    GRPC_PORT: String(port),
    MODULE_ID: "mod-1",
    MODULE_NAME: "test-camera",
    MODULE_DATA_DIR: dataDir,
    ...options.env,
  };
  for (const [name, value] of Object.entries(wanted)) {
    if (value !== undefined) env[name] = value;
  }
  const stdin = options.stdin ?? "piped";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", options.script ?? "main.ts"],
    cwd: options.cwd ?? CAMERA_DIR,
    env,
    clearEnv: true,
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const proc = new ModuleProcess(child, port, dataDir);
  if (options.stdinText !== undefined && stdin === "piped") {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdinText));
    writer.releaseLock();
  }
  if (options.waitListening ?? true) {
    try {
      await proc.waitForLine(`listening on 127.0.0.1:${port}`);
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }
  return proc;
}

/** What a test EventService received. */
export interface Received {
  kind: "event" | "status" | "metrics";
  authorization: string | null;
  event?: ReportEventRequest;
  status?: ReportStatusRequest;
  metrics?: ReportMetricsRequest;
}

/** A real EventService on 127.0.0.1 that records every report and its authorization. */
export class EventServer {
  readonly received: Received[] = [];
  #waiters = new Set<() => void>();
  #nextId = 41n;

  private constructor(readonly server: grpc.Server, readonly address: string) {}

  /** Starts it; `override` replaces recording handlers (e.g. to reject calls). */
  static async start(override: PartialServiceImpl<typeof EventService> = {}): Promise<EventServer> {
    const server = new grpc.Server();
    // deno-lint-ignore prefer-const
    let self: EventServer;
    const record = (r: Received) => {
      self.received.push(r);
      self.#waiters.forEach((wake) => wake());
    };
    const impl: PartialServiceImpl<typeof EventService> = {
      reportEvent: (request, ctx) => {
        record({ kind: "event", authorization: ctx.headers.get("authorization"), event: request });
        return { eventId: ++self.#nextId };
      },
      reportStatus: (request, ctx) => {
        record({
          kind: "status",
          authorization: ctx.headers.get("authorization"),
          status: request,
        });
        return {};
      },
      reportMetrics: (request, ctx) => {
        record({
          kind: "metrics",
          authorization: ctx.headers.get("authorization"),
          metrics: request,
        });
        return {};
      },
      ...override,
    };
    addService(server, EventService, impl);
    self = new EventServer(server, await bindLoopback(server));
    return self;
  }

  /** Waits until a report matches `predicate`. */
  waitFor(predicate: (r: Received) => boolean, timeoutMs = 15_000): Promise<Received> {
    const wait = new Promise<Received>((resolve) => {
      const check = () => {
        const found = this.received.find(predicate);
        if (found) {
          this.#waiters.delete(check);
          resolve(found);
        }
      };
      this.#waiters.add(check);
      check();
    });
    return withTimeout(wait, timeoutMs, "a report at the test EventService");
  }

  /** Stops the server. */
  close(): Promise<void> {
    return stopServer(this.server, 2000);
  }
}

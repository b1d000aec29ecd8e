/**
 * The SDK's Connect transport against a real gRPC EventService (in this process) whose
 * acknowledgements the test controls: thousands of reports in flight, acknowledgement
 * deadlines, resending after a reconnect, the bounded queue, and the fallbacks.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { bindLoopback } from "../helpers/grpc.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ConnectRequest,
  type ConnectResponseSchema,
  EventService,
} from "@callassistant/protocol";
import { AsyncQueue } from "../../src/async/async_queue.ts";
import { Code, RpcError } from "@callassistant/rpc";
import { addService, stopServer } from "@callassistant/rpc";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { ConnectReportTransport } from "../../packages/sdk-ts/connect_transport.ts";
import { EventServer, withTimeout } from "./module_harness.ts";

type Response = MessageInitShape<typeof ConnectResponseSchema>;

/** One Connect stream as the server sees it. */
interface Stream {
  received: ConnectRequest[];
  responses: AsyncQueue<Response>;
}

/** An EventService whose Connect acknowledges every message (`auto`) or only when told. */
class ConnectServer {
  readonly streams: Stream[] = [];
  auto = false;
  #nextId = 0n;
  #waiters = new Set<() => void>();

  private constructor(readonly server: grpc.Server, readonly address: string) {}

  static async start(impl: PartialServiceImpl<typeof EventService> = {}): Promise<ConnectServer> {
    const server = new grpc.Server();
    // deno-lint-ignore prefer-const
    let self: ConnectServer;
    addService(server, EventService, {
      connect: (requests: AsyncIterable<ConnectRequest>) => {
        const stream: Stream = { received: [], responses: new AsyncQueue() };
        self.streams.push(stream);
        (async () => {
          try {
            for await (const request of requests) {
              stream.received.push(request);
              if (self.auto) self.ack(request.sequence, stream);
              self.#waiters.forEach((wake) => wake());
            }
          } catch {
            // The client went away.
          }
        })();
        return stream.responses;
      },
      ...impl,
    });
    self = new ConnectServer(server, await bindLoopback(server));
    return self;
  }

  /** The latest stream. */
  get stream(): Stream {
    return this.streams.at(-1)!;
  }

  /** Event messages the latest stream received, by sequence. */
  events(stream: Stream | undefined = this.streams.at(-1)): bigint[] {
    return (stream?.received ?? []).filter((r) => r.payload.case === "event").map((r) =>
      r.sequence
    );
  }

  /** Acknowledges `sequence` (and so every message before it) with a new event id. */
  ack(sequence: bigint, stream = this.stream): bigint {
    const eventId = ++this.#nextId;
    stream.responses.push({ payload: { case: "ack", value: { sequence, eventId } } });
    return eventId;
  }

  /** Waits until `check` holds after a message arrives. */
  waitFor(check: () => boolean, what: string): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => {
        const wake = () => {
          if (!check()) return;
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        wake();
      }),
      15_000,
      what,
    );
  }

  close(): Promise<void> {
    for (const s of this.streams) s.responses.close();
    return stopServer(this.server, 2000);
  }
}

/** Settles `promise` into `{ value }` or `{ error }` and the ms it took from `since`. */
function outcome<T>(promise: Promise<T>, since: number) {
  return promise.then(
    (value) => ({ value, error: undefined, ms: performance.now() - since }),
    (error: unknown) => ({ value: undefined, error, ms: performance.now() - since }),
  );
}

/** Polls `check` every 10 ms until it holds (at most 10 s). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertCode(error: unknown, code: Code, message?: RegExp): void {
  assert.ok(error instanceof RpcError, String(error));
  assert.equal(Code[error.code], Code[code], error.message);
  if (message) assert.match(error.message, message);
}

Deno.test("connect: 5000 reports in flight are written in order and resolve in order", async () => {
  const s = await ConnectServer.start();
  s.auto = true;
  const transport = new ConnectReportTransport({ address: s.address, token: "t", log: () => {} });
  try {
    const order: number[] = [];
    const ids = await Promise.all(
      Array.from(
        { length: 5000 },
        (_, i) =>
          transport.reportEvent({ type: "bulk.one" }).then((id) => {
            order.push(i);
            return id;
          }),
      ),
    );
    assert.deepEqual(order, [...order].sort((a, b) => a - b), "resolved in order");
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `id ${i} increases`);
    const sequences = s.events();
    assert.equal(sequences.length, 5000);
    for (let i = 1; i < sequences.length; i++) assert.ok(sequences[i] > sequences[i - 1]);
    assert.equal(transport.pending, 0);
    assert.equal(transport.connects, 1);
  } finally {
    transport.close();
    await s.close();
  }
});

Deno.test("connect: each report in flight times out at its own deadline; acks still resolve in order", async () => {
  const s = await ConnectServer.start();
  const ackTimeoutMs = 400;
  const transport = new ConnectReportTransport({
    address: s.address,
    token: "t",
    ackTimeoutMs,
    log: () => {},
  });
  try {
    const t0 = performance.now();
    const first = Array.from(
      { length: 300 },
      () => outcome(transport.reportEvent({ type: "a" }), performance.now()),
    );
    await s.waitFor(() => s.events().length === 300, "the first 300 reports");
    await new Promise((r) => setTimeout(r, Math.max(0, 150 - (performance.now() - t0))));
    const second = Array.from(
      { length: 300 },
      () => outcome(transport.reportEvent({ type: "b" }), performance.now()),
    );
    await s.waitFor(() => s.events().length === 600, "the next 300 reports");
    // The first 100 are acknowledged one by one before their deadline.
    const sequences = s.events();
    const given = sequences.slice(0, 100).map((seq) => s.ack(seq));
    const all = await Promise.all([...first, ...second]);
    assert.deepEqual(all.slice(0, 100).map((o) => o.value), given);
    assert.ok(all.slice(0, 100).every((o) => o.ms < ackTimeoutMs), "acked before the deadline");
    // The second batch was sent 150 ms after the first: each failed at its own deadline.
    for (const [i, o] of all.slice(100).entries()) {
      assertCode(o.error, Code.DEADLINE_EXCEEDED, /not acknowledged within 400 ms .*resending/);
      // Not before its deadline (a timer may round by a millisecond), nor long after.
      assert.ok(o.ms >= ackTimeoutMs - 2, `report ${i + 100} failed after ${o.ms} ms`);
      assert.ok(o.ms < ackTimeoutMs + 2000, `report ${i + 100} failed after ${o.ms} ms`);
    }
    // Timed-out reports stay queued for resending until acknowledged.
    assert.equal(transport.pending, 500);
    s.ack(sequences.at(-1)!);
    await until(() => transport.pending === 0, "nothing pending after the last ack");
  } finally {
    transport.close();
    await s.close();
  }
});

Deno.test("connect: timed-out reports are resent in order after a reconnect; a full queue drops the oldest", async () => {
  const s = await ConnectServer.start();
  const logged: string[] = [];
  const transport = new ConnectReportTransport({
    address: s.address,
    token: "t",
    ackTimeoutMs: 200,
    maxPending: 50,
    backoffInitialMs: 20,
    log: (l) => logged.push(l),
  });
  try {
    const results = Array.from(
      { length: 60 },
      (_, i) => outcome(transport.reportEvent({ type: `r.${i}` }), performance.now()),
    );
    const settled = await Promise.all(results);
    for (const o of settled.slice(0, 10)) {
      assertCode(o.error, Code.RESOURCE_EXHAUSTED, /more than 50 reports wait/);
    }
    for (const o of settled.slice(10)) assertCode(o.error, Code.DEADLINE_EXCEEDED);
    assert.equal(transport.pending, 50);
    await s.waitFor(() => s.events().length === 60, "the 60 reports");
    const kept = s.events().slice(10);

    // The orchestrator ends the stream: the 50 kept are sent again, first and in order.
    const firstStream = s.stream;
    firstStream.responses.close();
    await s.waitFor(
      () => s.stream !== firstStream && s.stream.received.length > 50,
      "the reports resent on a new stream",
    );
    assert.deepEqual(s.events().slice(0, 50), kept);
    assert.equal(s.stream.received[50]?.payload.case, "heartbeat");
    assert.ok(logged.some((l) => /reconnecting in \d+ ms with 50 report\(s\) to resend/.test(l)));
    s.ack(kept.at(-1)!);
    await until(() => transport.pending === 0, "nothing pending after the resend");
    s.auto = true;
    assert.ok((await transport.reportEvent({ type: "after" })) > 0n);
    assert.equal(transport.connects, 2);
  } finally {
    transport.close();
    await s.close();
  }
});

Deno.test("connect: a refused token fails every report; no Connect means unary calls", async () => {
  const refusing = await ConnectServer.start({
    // deno-lint-ignore require-yield
    connect: async function* () {
      throw new RpcError(Code.UNAUTHENTICATED, "unknown module token");
    },
  });
  const unary = await EventServer.start();
  const logged: string[] = [];
  const refused = new ConnectReportTransport({
    address: refusing.address,
    token: "bad",
    backoffInitialMs: 5000,
    log: (l) => logged.push(l),
  });
  const fallback = new ConnectReportTransport({
    address: unary.address,
    token: "good",
    log: (l) => logged.push(l),
  });
  try {
    const outcomes = await Promise.all(
      Array.from({ length: 3 }, () => outcome(refused.reportEvent({ type: "x" }), 0)),
    );
    for (const o of outcomes) assertCode(o.error, Code.UNAUTHENTICATED, /unknown module token/);
    assert.equal(refused.pending, 0);

    const ids = await Promise.all([
      fallback.reportEvent({ type: "u.one" }),
      fallback.reportEvent({ type: "u.two" }),
    ]);
    assert.ok(ids[0] > 0n && ids[1] > 0n);
    assert.equal(await fallback.reportStatus({}), undefined);
    assert.deepEqual(
      unary.received.filter((r) => r.kind === "event").map((r) => r.event?.type).sort(),
      ["u.one", "u.two"],
    );
    assert.ok(unary.received.every((r) => r.authorization === "Bearer good"));
    assert.ok(logged.some((l) => /reporting with unary calls/.test(l)));
  } finally {
    refused.close();
    fallback.close();
    await refusing.close();
    await unary.close();
  }
});

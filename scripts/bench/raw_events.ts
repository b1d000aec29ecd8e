/**
 * The raw grpc-js baselines of event ingest, with the EventService messages but none of
 * our code around grpc-js:
 * - `server`: a bare grpc-js server whose Connect acknowledges every message and whose
 *   ReportEvent answers an id; prints `listening PORT`;
 * - `stream {address, seconds, window, token?, warmup?}`: a bare grpc-js client streaming
 *   event messages on Connect with at most `window` unacknowledged, for `seconds` (after
 *   `warmup` s, default 1); prints `{eventsPerSecond, acked, errors}`.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import {
  ConnectRequestSchema,
  ConnectResponseSchema,
  EventService,
  ReportEventRequestSchema,
  ReportEventResponseSchema,
} from "@callassistant/protocol";

const [mode, raw] = Deno.args;
const connectPath = `/${EventService.typeName}/Connect`;
const reportPath = `/${EventService.typeName}/ReportEvent`;

if (mode === "server") {
  const server = new grpc.Server();
  let nextId = 0n;
  server.addService({
    Connect: {
      path: connectPath,
      requestStream: true,
      responseStream: true,
      requestDeserialize: (b: Buffer) => fromBinary(ConnectRequestSchema, b),
      responseSerialize: (v: unknown) =>
        Buffer.from(toBinary(ConnectResponseSchema, create(ConnectResponseSchema, v as never))),
      requestSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
    },
    ReportEvent: {
      path: reportPath,
      requestStream: false,
      responseStream: false,
      requestDeserialize: (b: Buffer) => fromBinary(ReportEventRequestSchema, b),
      responseSerialize: (v: unknown) =>
        Buffer.from(
          toBinary(ReportEventResponseSchema, create(ReportEventResponseSchema, v as never)),
        ),
      requestSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
    },
  }, {
    Connect: (call: grpc.ServerDuplexStream<{ sequence: bigint }, unknown>) => {
      call.on("data", (req: { sequence: bigint }) => {
        call.write({
          payload: { case: "ack", value: { sequence: req.sequence, eventId: ++nextId } },
        });
      });
      call.on("end", () => call.end());
      call.on("error", () => {});
    },
    ReportEvent: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      callback(null, { eventId: ++nextId });
    },
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    console.log(`listening ${port}`);
  });
} else if (mode === "stream") {
  const config = JSON.parse(raw);
  const client = new grpc.Client(config.address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (config.token) metadata.set("authorization", `Bearer ${config.token}`);
  const call = client.makeBidiStreamRequest(
    connectPath,
    (v: unknown) =>
      Buffer.from(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, v as never))),
    (b: Uint8Array) => fromBinary(ConnectResponseSchema, b),
    metadata,
  );
  let sequence = 0n;
  let acked = 0n;
  let errors = 0;
  let counting = false;
  let counted = 0;
  let wake: (() => void) | undefined;
  call.on(
    "data",
    (res: { payload: { case: string; value: { sequence: bigint; error: string } } }) => {
      if (res.payload.case !== "ack") return;
      if (res.payload.value.error) errors++;
      else if (counting) counted += Number(res.payload.value.sequence - acked);
      acked = res.payload.value.sequence;
      wake?.();
    },
  );
  let ended = false;
  let endStatus = "";
  call.on("error", () => {
    ended = true;
    wake?.();
  });
  call.on("end", () => {
    ended = true;
    wake?.();
  });
  call.on("status", (status: grpc.StatusObject) => {
    ended = true;
    if (status.code !== grpc.status.OK) endStatus = `${status.code}: ${status.details}`;
    wake?.();
  });
  const send = async (until: number) => {
    while (performance.now() < until && !ended) {
      if (sequence - acked >= BigInt(config.window)) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, Math.max(0, until - performance.now()));
        });
        clearTimeout(timer);
        wake = undefined;
        continue;
      }
      const ok = call.write({
        sequence: ++sequence,
        payload: {
          case: "event",
          value: { type: "bench.flood", message: "flood", severity: 2 },
        },
      });
      if (!ok) {
        await Promise.race([
          new Promise((r) => call.once("drain", r)),
          new Promise((r) => setTimeout(r, Math.max(0, until - performance.now()))),
        ]);
      }
    }
  };
  await send(performance.now() + (config.warmup ?? 1) * 1000);
  counting = true;
  const t0 = performance.now();
  await send(t0 + config.seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  call.end();
  client.close();
  console.log(
    JSON.stringify({ eventsPerSecond: counted / elapsed, acked: counted, errors, endStatus }),
  );
  Deno.exit(0);
} else {
  console.error("usage: raw_events.ts server | stream JSON");
  Deno.exit(2);
}

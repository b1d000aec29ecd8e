/**
 * Media status in the TypeScript SDK: the MediaMeter's figures (fps, bitrate, stalls,
 * counters taken from elsewhere, latency), `events.media` to a real EventService (one
 * media-only status report), and ReestablishConnection: UNIMPLEMENTED unless the module
 * provides it.
 */
import assert from "node:assert/strict";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { FlowState, PipelineService } from "@callassistant/protocol";
import { Code, createClient, RpcError } from "@callassistant/rpc";
import {
  EventReporter,
  FlowMeters,
  LatencySource,
  MediaMeter,
  MediaSide,
  serveModule,
} from "@callassistant/sdk";
import { EventServer, freePort } from "./module_harness.ts";

/** A meter on a clock the test moves. */
function meterAt(start = 1_000_000) {
  const clock = { now: start };
  const meter = new MediaMeter({
    connectionId: "c1",
    side: MediaSide.SENT,
    codec: "h264",
    now: () => clock.now,
  });
  return { meter, clock };
}

Deno.test("media meter: frames and bytes give fps, bitrate, first and last frame", () => {
  const { meter, clock } = meterAt();
  const fresh = meter.stats();
  assert.equal(fresh.frames, 0n);
  assert.equal(fresh.fps, 0);
  assert.equal(fresh.lastFrameAt, undefined);
  assert.equal(timestampMs(fresh.startedAt!), 1_000_000);
  // 25 fps of 5 000-byte frames for 4 s.
  for (let i = 0; i < 100; i++) {
    clock.now += 40;
    meter.frames(1, 5000);
  }
  meter.size(1280, 720);
  const s = meter.stats();
  assert.equal(s.connectionId, "c1");
  assert.equal(s.side, MediaSide.SENT);
  assert.equal(s.codec, "h264");
  assert.equal(s.frames, 100n);
  assert.equal(s.bytes, 500_000n);
  assert.ok(Math.abs(s.fps - 25) <= 1, `fps ${s.fps}`);
  assert.ok(Math.abs(s.bitrateKbps - 1000) <= 40, `bitrate ${s.bitrateKbps}`);
  assert.equal(timestampMs(s.firstFrameAt!), 1_000_040);
  assert.equal(timestampMs(s.lastFrameAt!), 1_004_000);
  assert.equal(timestampMs(s.measuredAt!), 1_004_000);
  assert.deepEqual([s.width, s.height], [1280, 720]);
  assert.equal(s.stalls, 0);
  assert.equal(s.latencySource, LatencySource.UNSPECIFIED);
  // Nothing for 3 s: the rates fall to 0, the last frame stays, one stall.
  clock.now += 3000;
  const quiet = meter.stats();
  assert.equal(quiet.fps, 0);
  assert.equal(quiet.bitrateKbps, 0);
  assert.equal(timestampMs(quiet.lastFrameAt!), 1_004_000);
  assert.equal(quiet.stalls, 1);
  clock.now += 5000;
  assert.equal(meter.stats().stalls, 1, "one gap is one stall, however long");
  clock.now += 40;
  meter.frames();
  clock.now += 2500;
  meter.frames();
  assert.equal(meter.stats().stalls, 2, "a 2.5 s gap seen only when the next frame came");
  clock.now += 1000;
  meter.frames();
  assert.equal(meter.stats().stalls, 2, "a 1 s gap is no stall");
});

Deno.test("media meter: totals from a counter elsewhere, restarts of that counter, drops", () => {
  const { meter, clock } = meterAt();
  clock.now += 500;
  meter.totals(10, 10_000);
  clock.now += 500;
  meter.totals(30, 30_000);
  assert.equal(meter.stats().frames, 30n);
  // The process behind the counter restarted: its totals start over.
  clock.now += 500;
  meter.totals(5, 4_000);
  meter.restarted();
  let s = meter.stats();
  assert.equal(s.frames, 35n, "counting goes on across the restart");
  assert.equal(s.bytes, 34_000n);
  assert.equal(s.restarts, 1);
  clock.now += 500;
  meter.totals(5, 4_000);
  assert.equal(meter.stats().frames, 35n, "the same total again adds nothing");
  meter.droppedTotal(3);
  meter.droppedTotal(7);
  meter.dropped(2);
  s = meter.stats();
  assert.equal(s.framesDropped, 9n);
  // A new StartFlow: counting again from zero with a new started_at.
  clock.now += 1000;
  meter.reset();
  s = meter.stats();
  assert.equal(s.frames, 0n);
  assert.equal(s.restarts, 0);
  assert.equal(timestampMs(s.startedAt!), clock.now);
});

Deno.test("media meter: latency median of the last 10, p95 of the last 100, and its source", () => {
  const { meter } = meterAt();
  for (let i = 1; i <= 100; i++) meter.latency(i, LatencySource.PIXEL_CLOCK);
  meter.latency(Number.NaN, LatencySource.PIXEL_CLOCK);
  const s = meter.stats();
  assert.equal(s.latencySource, LatencySource.PIXEL_CLOCK);
  assert.equal(s.latencyMs, 96, "median of 91..100");
  assert.equal(s.latencyP95Ms, 96);
  assert.throws(() => new MediaMeter({ connectionId: "", side: MediaSide.SENT }), /connectionId/);
  assert.throws(() => new MediaMeter({ connectionId: "c", side: MediaSide.UNSPECIFIED }), /side/);
});

Deno.test("events.media: one media-only status report; bad entries left out, none sends nothing", async () => {
  const server = await EventServer.start();
  const lines: string[] = [];
  const reporter = new EventReporter({
    address: server.address,
    token: "tok",
    log: (l) => lines.push(l),
  });
  try {
    const meter = new MediaMeter({ connectionId: "c-video", side: MediaSide.PRESENTED });
    meter.frames(3, 900);
    const ok = await reporter.media("flow-1", [
      meter,
      { connectionId: "c-audio", side: MediaSide.RECEIVED, frames: 7n },
      { connectionId: "", side: MediaSide.SENT },
    ]);
    assert.equal(ok, true);
    assert.equal(server.received.length, 1);
    const status = server.received[0].status!;
    assert.equal(status.flows.length, 1);
    const flow = status.flows[0];
    assert.equal(flow.flowId, "flow-1");
    assert.equal(flow.state, FlowState.UNSPECIFIED, "media only: the state stands");
    assert.equal(flow.quality, undefined);
    assert.deepEqual(
      flow.media.map((m) => [m.connectionId, MediaSide[m.side], m.frames]),
      [["c-video", "PRESENTED", 3n], ["c-audio", "RECEIVED", 7n]],
    );
    assert.ok(lines.some((l) => /without a connection id or side: left out/.test(l)));
    assert.equal(await reporter.media("flow-1", []), false);
    assert.equal(await reporter.media("", [meter]), false);
    assert.equal(server.received.length, 1, "nothing more was sent");
  } finally {
    reporter.close();
    await server.close();
  }
});

Deno.test("FlowMeters: reports at 1 Hz while a flow is started, none once stopped", async () => {
  const server = await EventServer.start();
  const reporter = new EventReporter({ address: server.address, token: "tok", log: () => {} });
  let refreshed = 0;
  const media = new FlowMeters(() => reporter, { refresh: () => refreshed++, everyMs: 200 });
  try {
    const inMeter = media.meter("f1", "c-in", MediaSide.RECEIVED, "h264");
    media.meter("f1", "c-out", MediaSide.SENT, "mjpeg");
    assert.equal(media.meter("f1", "c-in", MediaSide.RECEIVED), inMeter, "one meter per side");
    assert.deepEqual(media.stats("f1"), [], "nothing before the flow starts");
    inMeter.frames(5, 500);
    media.start("f1");
    assert.equal(media.stats("f1")[0].frames, 0n, "a start counts from zero");
    inMeter.frames(3, 300);
    const mediaReports = () =>
      server.received.filter((r) => r.status?.flows.some((f) => f.media.length > 0));
    const deadline = Date.now() + 5000;
    while (mediaReports().length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const reports = mediaReports();
    assert.ok(reports.length >= 2, `two reports, got ${reports.length}`);
    const flow = reports.at(-1)!.status!.flows[0];
    assert.equal(flow.flowId, "f1");
    assert.equal(flow.state, FlowState.UNSPECIFIED);
    assert.deepEqual(
      flow.media.map((m) => [m.connectionId, MediaSide[m.side], m.frames, m.codec]),
      [["c-in", "RECEIVED", 3n, "h264"], ["c-out", "SENT", 0n, "mjpeg"]],
    );
    assert.ok(refreshed >= 2, "refresh runs before each report");
    media.stop("f1");
    await new Promise((r) => setTimeout(r, 250));
    const count = mediaReports().length;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(mediaReports().length, count, "no reports once stopped");
    media.forget({ connectionId: "c-in" });
    assert.deepEqual(media.meters("f1").map((m) => m.connectionId), ["c-out"]);
    media.forget({ flowId: "f1" });
    assert.deepEqual(media.meters("f1"), []);
  } finally {
    media.close();
    reporter.close();
    await server.close();
  }
});

Deno.test("ReestablishConnection: UNIMPLEMENTED unless the module provides it", async () => {
  const env = { GRPC_PORT: String(freePort()), MODULE_NAME: "media-sdk-test" };
  const bare = await serveModule(
    { info: { version: "1.0.0", description: "no reestablish" }, capabilities: [] },
    { env, ownProcess: false, log: () => {} },
  );
  const asked: string[] = [];
  const env2 = { GRPC_PORT: String(freePort()), MODULE_NAME: "media-sdk-test-2" };
  const able = await serveModule({
    info: { version: "1.0.0", description: "with reestablish" },
    capabilities: [],
    pipeline: {
      reestablishConnection: (req) => {
        asked.push(`${req.flowId}/${req.connectionId}: ${req.reason}`);
        return { message: `restarted ${req.connectionId}` };
      },
    },
  }, { env: env2, ownProcess: false, log: () => {} });
  const bareClient = createClient(PipelineService, `127.0.0.1:${bare.port}`);
  const ableClient = createClient(PipelineService, `127.0.0.1:${able.port}`);
  try {
    await assert.rejects(
      bareClient.reestablishConnection({ flowId: "f", connectionId: "c" }, { timeoutMs: 5000 }),
      (err: unknown) => err instanceof RpcError && err.code === Code.UNIMPLEMENTED,
    );
    const res = await ableClient.reestablishConnection(
      { flowId: "f", connectionId: "c", reason: "no new frame for 5 s" },
      { timeoutMs: 5000 },
    );
    assert.equal(res.message, "restarted c");
    assert.deepEqual(asked, ["f/c: no new frame for 5 s"]);
  } finally {
    bareClient.close();
    ableClient.close();
    await bare.close();
    await able.close();
  }
});

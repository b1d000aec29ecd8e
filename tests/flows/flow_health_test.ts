/**
 * The media judgement (flow_health.ts) on scripted figures, and a flow whose modules
 * never report media: not watched, UNMEASURED, judged by module states as before.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Connection,
  ConnectionSchema,
  EntityOrigin,
  FlowState,
  HopState,
  LatencySource,
  MediaSide,
  MediaStatsSchema,
} from "@callassistant/protocol";
import { judgeFlow, type JudgeInput, sideKey } from "../../src/flows/flow_health.ts";
import { fakePipeline, homeSetup } from "./fakes.ts";

const T0 = 1_800_000_000_000;
const connections: Connection[] = [
  create(ConnectionSchema, { id: "c0", sourceEntityId: "cam", targetEntityId: "conv" }),
  create(ConnectionSchema, { id: "c1", sourceEntityId: "conv", targetEntityId: "tv" }),
];
const MODULES: Record<string, string> = { cam: "camera", conv: "converter", tv: "screen" };

function stats(
  connectionId: string,
  side: MediaSide,
  measuredAt: number,
  lastFrameAt?: number,
  extra: Record<string, unknown> = {},
) {
  return create(MediaStatsSchema, {
    connectionId,
    side,
    measuredAt: timestampFromMs(measuredAt),
    startedAt: timestampFromMs(T0),
    frames: lastFrameAt ? 100n : 0n,
    fps: 25,
    firstFrameAt: lastFrameAt ? timestampFromMs(T0 + 800) : undefined,
    lastFrameAt: lastFrameAt ? timestampFromMs(lastFrameAt) : undefined,
    ...extra,
  });
}

function input(over: Partial<JudgeInput>): JudgeInput {
  return {
    connections,
    moduleOf: (id) => MODULES[id],
    reports: new Map(),
    everReported: new Set(),
    startedAt: T0,
    now: T0 + 10_000,
    stallTimeoutMs: (m) => m === "converter" ? 3_000 : 5_000,
    firstFrameTimeoutMs: 15_000,
    maxLatencyMs: 0,
    ...over,
  };
}

Deno.test("judgement: flowing, stalled by age (module clock plus the time since the report), per-module stall timeout", () => {
  const now = T0 + 10_000;
  // The converter's clock is 1 h off: only differences on its clock count.
  const skew = 3_600_000;
  const health = judgeFlow(input({
    now,
    reports: new Map([
      ["camera", {
        media: [stats("c0", MediaSide.SENT, now - 200, now - 240)],
        receivedAt: now - 200,
      }],
      [
        "converter",
        {
          media: [
            stats("c0", MediaSide.RECEIVED, now + skew - 1000, now + skew - 3200),
            stats("c1", MediaSide.SENT, now + skew - 1000, now + skew - 1100),
          ],
          receivedAt: now - 1000,
        },
      ],
    ]),
  }));
  assert.equal(health.watched, true);
  assert.deepEqual(
    health.hops.map((h) => [h.connectionId, MediaSide[h.side], h.module, HopState[h.state]]),
    [
      ["c0", "SENT", "camera", "FLOWING"],
      // 2.2 s old when measured, reported 1 s ago: 3.2 s >= the converter's 3 s.
      ["c0", "RECEIVED", "converter", "STALLED"],
      // The screen does not measure c1, the converter does: no UNMEASURED entry.
      ["c1", "SENT", "converter", "FLOWING"],
    ],
  );
  assert.match(
    health.hops[1].message,
    /no new frame for 3\.2 s \(stall_timeout 3\.0 s; frames 100/,
  );
});

Deno.test("judgement: WAITING before the first frame, STALLED after first_frame_timeout; a side measured before and silent since the restart too", () => {
  const reports = new Map([
    ["screen", {
      media: [
        stats("c1", MediaSide.RECEIVED, T0 + 1000, T0 + 900),
        stats("c1", MediaSide.PRESENTED, T0 + 1000),
      ],
      receivedAt: T0 + 1000,
    }],
  ]);
  const everReported = new Set([sideKey("converter", "conv", MediaSide.SENT)]);
  const early = judgeFlow(input({ now: T0 + 1200, reports, everReported }));
  const byKey = (h: typeof early) =>
    Object.fromEntries(
      h.hops.map((x) => [`${x.connectionId} ${MediaSide[x.side]}`, HopState[x.state]]),
    );
  assert.deepEqual(byKey(early), {
    "c0 UNSPECIFIED": "UNMEASURED",
    "c1 SENT": "WAITING",
    "c1 RECEIVED": "FLOWING",
    "c1 PRESENTED": "WAITING",
  });
  const late = judgeFlow(input({ now: T0 + 16_000, reports, everReported, previous: early }));
  assert.equal(byKey(late)["c1 PRESENTED"], "STALLED");
  assert.equal(byKey(late)["c1 SENT"], "STALLED");
  assert.match(
    late.hops.find((h) => h.side === MediaSide.PRESENTED)!.message,
    /no frame within first_frame_timeout 15\.0 s \(16\.0 s since start, frames 0\)/,
  );
  // `since` stays while the state stays.
  const again = judgeFlow(input({ now: T0 + 17_000, reports, everReported, previous: late }));
  const presented = (h: typeof early) => h.hops.find((x) => x.side === MediaSide.PRESENTED)!;
  assert.deepEqual(presented(again).since, presented(late).since);
});

Deno.test("judgement: latency end to end by the pixel clock, else the sum of estimates; SLOW over max_latency", () => {
  const now = T0 + 10_000;
  const estimate = { latencyMs: 120, latencySource: LatencySource.MODULE_ESTIMATE };
  const byEstimates = judgeFlow(input({
    now,
    reports: new Map([
      ["converter", {
        media: [stats("c1", MediaSide.SENT, now, now - 40, estimate)],
        receivedAt: now,
      }],
      ["camera", {
        media: [stats("c0", MediaSide.SENT, now, now - 40, { ...estimate, latencyMs: 30 })],
        receivedAt: now,
      }],
    ]),
  }));
  assert.equal(byEstimates.latencyMs, 150);
  assert.equal(byEstimates.latencySource, LatencySource.MODULE_ESTIMATE);
  const pixel = { latencyMs: 700, latencySource: LatencySource.PIXEL_CLOCK };
  const byPixels = judgeFlow(input({
    now,
    maxLatencyMs: 500,
    reports: new Map([
      ["converter", {
        media: [stats("c1", MediaSide.SENT, now, now - 40, estimate)],
        receivedAt: now,
      }],
      ["screen", {
        media: [stats("c1", MediaSide.PRESENTED, now, now - 40, pixel)],
        receivedAt: now,
      }],
    ]),
  }));
  assert.equal(byPixels.latencyMs, 700);
  assert.equal(byPixels.latencySource, LatencySource.PIXEL_CLOCK);
  const presented = byPixels.hops.find((h) => h.side === MediaSide.PRESENTED)!;
  assert.equal(presented.state, HopState.SLOW);
  assert.match(presented.message, /latency 700 ms over max_latency 500 ms/);
  assert.equal(Number(byPixels.timeToFirstFrame?.nanos ?? 0) / 1e6, 800);
});

Deno.test("a flow whose modules never report media is not watched and stays as its modules say", async () => {
  const modules = homeSetup();
  const { pipeline } = fakePipeline(modules);
  try {
    await pipeline.flows.createEntity({
      entityType: "video_source",
      id: "cam",
      origin: EntityOrigin.CREATED,
    });
    await pipeline.flows.createEntity({
      entityType: "cast_screen",
      id: "tv",
      origin: EntityOrigin.CREATED,
    });
    const flow = await pipeline.flows.create({
      sourceEntityId: "cam",
      targetEntityId: "tv",
      id: "f",
    });
    pipeline.flows.watchdog.tick();
    const shown = pipeline.flows.toProto(flow);
    assert.equal(shown.health?.watched, false);
    assert.ok(shown.health!.hops.length > 0);
    assert.ok(shown.health!.hops.every((h) => h.state === HopState.UNMEASURED));
    assert.equal(shown.state, FlowState.ACTIVE);
    assert.equal(shown.health!.stalls, 0);
  } finally {
    await pipeline.close();
  }
});

Deno.test("judgement: a side the module leaves out of a report it sends is not measured now (a screen with no page open)", () => {
  const now = T0 + 60_000;
  const health = judgeFlow(input({
    now,
    everReported: new Set([sideKey("screen", "tv", MediaSide.PRESENTED)]),
    reports: new Map([
      ["screen", { media: [stats("c1", MediaSide.RECEIVED, now, now - 100)], receivedAt: now }],
    ]),
  }));
  assert.deepEqual(
    health.hops.filter((h) => h.connectionId === "c1").map((h) => MediaSide[h.side]),
    ["RECEIVED"],
  );
  assert.equal(health.hops.find((h) => h.connectionId === "c1")!.state, HopState.FLOWING);
});

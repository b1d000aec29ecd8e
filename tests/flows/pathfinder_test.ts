/**
 * Path-finding: cheapest chains of converter transforms per media type, the cost
 * formula, deterministic tie-breaks whatever the order of the edges, and the no-path
 * error saying what was reachable and what was needed.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import type { ConverterEdge } from "../../src/entities/capabilities.ts";
import { formatKey, transformCost } from "../../src/entities/formats.ts";
import {
  EntityKind,
  type MediaFormat,
  MediaFormatSchema,
  MediaType,
  TransformCostSchema,
} from "@callassistant/protocol";
import type { MediaPath } from "@callassistant/protocol";
import { findPaths, NoPathError, type PathEnd } from "../../src/flows/pathfinder.ts";
import { Code, RpcError } from "@callassistant/rpc";

const { VIDEO, AUDIO } = MediaType;

function fmt(mediaType: MediaType, protocol: string, codec: string): MediaFormat {
  return create(MediaFormatSchema, { mediaType, protocol, codec });
}

function edge(
  module: string,
  entityType: string,
  input: MediaFormat,
  output: MediaFormat,
  cost: number,
): ConverterEdge {
  return { module, entityType, input, output, cost };
}

const camera: PathEnd = {
  entityId: "cam",
  entityType: "video_source",
  module: "camera",
  kind: EntityKind.SOURCE,
  formats: [fmt(VIDEO, "rtsp", "h264"), fmt(AUDIO, "rtsp", "aac")],
};

function sink(...formats: MediaFormat[]): PathEnd {
  return { entityId: "tv", entityType: "screen", module: "screen", kind: EntityKind.SINK, formats };
}

/** "module/type:in>out" per converter hop, for compact assertions. */
function hops(path: MediaPath): string[] {
  return path.hops.filter((h) => h.kind === EntityKind.CONVERTER).map((h) =>
    `${h.module}/${h.entityType}:${formatKey(h.input!)}>${formatKey(h.output!)}`
  );
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

Deno.test("pathfinder: the cost of a transform is cpu + latency_ms / 10 + quality_loss * 10", () => {
  assert.equal(transformCost(create(TransformCostSchema, { cpu: 1, latencyMs: 30 })), 4);
  assert.equal(
    transformCost(create(TransformCostSchema, { cpu: 2, latencyMs: 20, qualityLoss: 0.05 })),
    4.5,
  );
  // Negative and non-finite parts count as 0; an unset cost is free.
  assert.equal(
    transformCost(create(TransformCostSchema, { cpu: -5, latencyMs: NaN, qualityLoss: 0.1 })),
    1,
  );
  assert.equal(transformCost(undefined), 0);
});

Deno.test("pathfinder: a format both ends share needs no converter", () => {
  const { paths, totalCost } = findPaths(
    camera,
    sink(fmt(VIDEO, "RTSP", "H264"), fmt(AUDIO, "rtsp", "aac")),
    [],
  );
  assert.equal(totalCost, 0);
  assert.deepEqual(paths.map((p) => p.mediaType), [VIDEO, AUDIO], "video first");
  const video = paths[0];
  assert.deepEqual(video.hops.map((h) => h.entityId), ["cam", "tv"]);
  assert.equal(formatKey(video.hops[0].output!), "video/rtsp/h264");
  assert.equal(
    formatKey(video.hops[1].input!),
    "video/rtsp/h264",
    "formats match case-insensitively",
  );
  assert.equal(video.hops[0].kind, EntityKind.SOURCE);
  assert.equal(video.hops[1].kind, EntityKind.SINK);
});

Deno.test("pathfinder: the cheapest chain wins over a shorter, dearer one, per media type", () => {
  const edges = [
    edge("conv", "rtsp_to_webrtc", fmt(VIDEO, "rtsp", "h264"), fmt(VIDEO, "webrtc", "h264"), 4),
    edge("conv", "rtsp_to_webrtc", fmt(AUDIO, "rtsp", "aac"), fmt(AUDIO, "webrtc", "opus"), 9),
    edge("conv", "audio_transcoder", fmt(AUDIO, "rtsp", "aac"), fmt(AUDIO, "rtsp", "opus"), 4.5),
    edge("conv", "rtsp_to_webrtc", fmt(AUDIO, "rtsp", "opus"), fmt(AUDIO, "webrtc", "opus"), 1.5),
  ];
  const target = sink(fmt(VIDEO, "webrtc", "h264"), fmt(AUDIO, "webrtc", "opus"));
  const { paths, totalCost } = findPaths(camera, target, edges);
  assert.deepEqual(hops(paths[0]), ["conv/rtsp_to_webrtc:video/rtsp/h264>video/webrtc/h264"]);
  assert.deepEqual(hops(paths[1]), [
    "conv/audio_transcoder:audio/rtsp/aac>audio/rtsp/opus",
    "conv/rtsp_to_webrtc:audio/rtsp/opus>audio/webrtc/opus",
  ]);
  assert.equal(paths[0].totalCost, 4);
  assert.equal(paths[1].totalCost, 6);
  assert.equal(totalCost, 10);
  // Every hop: source, converters, target; costs on converter hops only.
  const audio = paths[1];
  assert.deepEqual(audio.hops.map((h) => h.cost), [0, 4.5, 1.5, 0]);
  assert.deepEqual(audio.hops.map((h) => h.entityId), ["cam", "", "", "tv"]);
  assert.equal(formatKey(audio.hops[3].input!), "audio/webrtc/opus");
});

Deno.test("pathfinder: among equal costs, fewer hops win", () => {
  const a = fmt(VIDEO, "rtsp", "h264");
  const b = fmt(VIDEO, "rtp", "h264");
  const c = fmt(VIDEO, "hls", "h264");
  const edges = [
    edge("m", "two_a", a, b, 1),
    edge("m", "two_b", b, c, 1),
    edge("z", "one", a, c, 2),
  ];
  for (let seed = 1; seed <= 5; seed++) {
    const { paths } = findPaths(camera, sink(c), shuffled(edges, seed));
    assert.deepEqual(hops(paths[0]), ["z/one:video/rtsp/h264>video/hls/h264"], `seed ${seed}`);
  }
});

Deno.test("pathfinder: equal cost and hops: alphabetical module, then type, whatever the order", () => {
  const a = fmt(VIDEO, "rtsp", "h264");
  const c = fmt(VIDEO, "hls", "h264");
  const edges = [
    edge("conv-b", "bridge", a, c, 3),
    edge("conv-a", "zeta", a, c, 3),
    edge("conv-a", "alpha", a, c, 3),
    edge("conv-c", "aaa", a, c, 3),
  ];
  for (let seed = 1; seed <= 8; seed++) {
    const { paths } = findPaths(camera, sink(c), shuffled(edges, seed));
    assert.deepEqual(
      hops(paths[0]),
      ["conv-a/alpha:video/rtsp/h264>video/hls/h264"],
      `seed ${seed}`,
    );
  }
});

Deno.test("pathfinder: equal cost through different intermediate formats is deterministic", () => {
  const src = fmt(VIDEO, "rtsp", "h264");
  const viaRtp = fmt(VIDEO, "rtp", "h264");
  const viaSrt = fmt(VIDEO, "srt", "h264");
  const out = fmt(VIDEO, "hls", "h264");
  const edges = [
    edge("m", "to_srt", src, viaSrt, 1),
    edge("m", "srt_out", viaSrt, out, 1),
    edge("m", "to_rtp", src, viaRtp, 1),
    edge("m", "rtp_out", viaRtp, out, 1),
  ];
  const results = new Set<string>();
  for (let seed = 1; seed <= 8; seed++) {
    results.add(hops(findPaths(camera, sink(out), shuffled(edges, seed)).paths[0]).join(" | "));
  }
  assert.deepEqual([...results], [
    "m/to_rtp:video/rtsp/h264>video/rtp/h264 | m/rtp_out:video/rtp/h264>video/hls/h264",
  ]);
});

Deno.test("pathfinder: cycles are harmless and zero-cost transforms are allowed", () => {
  const a = fmt(VIDEO, "rtsp", "h264");
  const b = fmt(VIDEO, "rtp", "h264");
  const c = fmt(VIDEO, "hls", "h264");
  const edges = [
    edge("m", "ab", a, b, 0),
    edge("m", "ba", b, a, 0),
    edge("m", "bc", b, c, 2),
  ];
  const { paths } = findPaths(camera, sink(c), edges);
  assert.deepEqual(hops(paths[0]), [
    "m/ab:video/rtsp/h264>video/rtp/h264",
    "m/bc:video/rtp/h264>video/hls/h264",
  ]);
  assert.equal(paths[0].totalCost, 2);
});

Deno.test("pathfinder: no path is FAILED_PRECONDITION naming reachable and needed formats", () => {
  const edges = [
    edge("conv", "audio_transcoder", fmt(AUDIO, "rtsp", "aac"), fmt(AUDIO, "rtsp", "opus"), 4.5),
    edge("conv", "rtsp_to_hls", fmt(VIDEO, "rtsp", "h264"), fmt(VIDEO, "hls", "h264"), 51),
  ];
  const target = sink(
    fmt(VIDEO, "hls", "h264"),
    fmt(AUDIO, "webrtc", "opus"),
    fmt(AUDIO, "hls", "aac"),
  );
  assert.throws(() => findPaths(camera, target, edges), (err: unknown) => {
    assert.ok(err instanceof NoPathError);
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.equal(err.missing.length, 1, "only audio is missing");
    assert.deepEqual(err.missing[0], {
      mediaType: "audio",
      reachable: ["audio/rtsp/aac", "audio/rtsp/opus"],
      needed: ["audio/hls/aac", "audio/webrtc/opus"],
    });
    assert.match(
      err.message,
      /no audio path from "cam" \(camera\/video_source\) to "tv" \(screen\/screen\): reachable audio formats: rtsp\/aac, rtsp\/opus; needed: hls\/aac or webrtc\/opus/,
    );
    return true;
  });
});

Deno.test("pathfinder: a source without the media type, and a target that accepts nothing", () => {
  // A target's audio input is no demand: a camera without audio gives a video-only flow.
  const videoOnly: PathEnd = { ...camera, formats: [fmt(VIDEO, "rtsp", "h264")] };
  const { paths } = findPaths(
    videoOnly,
    sink(fmt(VIDEO, "rtsp", "h264"), fmt(AUDIO, "rtsp", "aac")),
    [],
  );
  assert.deepEqual(paths.map((p) => p.mediaType), [VIDEO]);
  // A source with audio the target takes still needs its audio path.
  assert.throws(
    () => findPaths(camera, sink(fmt(VIDEO, "rtsp", "h264"), fmt(AUDIO, "webrtc", "opus")), []),
    /no audio path .*: reachable audio formats: .*; needed: webrtc\/opus/,
  );
  // Nothing in common: the source's and the target's media types are named.
  const audioOnly: PathEnd = { ...camera, formats: [fmt(AUDIO, "rtsp", "aac")] };
  assert.throws(
    () => findPaths(audioOnly, sink(fmt(VIDEO, "rtsp", "h264")), []),
    /emits audio; "tv" \(.*\) accepts only video/,
  );
  assert.throws(() => findPaths(camera, sink(), []), (err: unknown) => {
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.match(err.message, /accepts no media/);
    return true;
  });
});

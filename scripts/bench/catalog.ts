/**
 * A synthetic, deterministic catalog for path-finding at scale: `types` converter entity
 * types (3 transforms each, over 60 video and 30 audio formats), 8 source and 8 sink
 * types whose formats only meet through converters, and `entities` discovered entities
 * (half sources, half sinks). The same seed gives the same catalog in the module and in
 * the in-process benchmark.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { EntitySchema } from "@callassistant/protocol";
import type { EntityCapabilityInit } from "@callassistant/sdk";

/** EntityKind and MediaType numbers (as in media.proto). */
const KIND = { SOURCE: 1, SINK: 2, CONVERTER: 3 } as const;
const MEDIA = { VIDEO: 1, AUDIO: 2 } as const;

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Format {
  mediaType: number;
  protocol: string;
  codec: string;
}

const VIDEO_PROTOCOLS = [
  "rtsp",
  "webrtc",
  "hls",
  "mjpeg",
  "srt",
  "rtmp",
  "dash",
  "udp",
  "ndi",
  "v4l2",
];
const VIDEO_CODECS = ["h264", "h265", "vp8", "vp9", "av1", "mjpeg"];
const AUDIO_PROTOCOLS = ["rtsp", "webrtc", "hls", "srt", "rtmp", "udp"];
const AUDIO_CODECS = ["aac", "opus", "pcmu", "pcma", "mp3"];

function formats(mediaType: number, protocols: string[], codecs: string[]): Format[] {
  return protocols.flatMap((protocol) => codecs.map((codec) => ({ mediaType, protocol, codec })));
}

/** A catalog: the module's capabilities, its discovered entities, and query pairs. */
export interface Catalog {
  capabilities: EntityCapabilityInit[];
  entities: MessageInitShape<typeof EntitySchema>[];
  /** Source and sink entity ids, for FindPath queries. */
  sources: string[];
  sinks: string[];
}

/** Builds the catalog of `types` converter types and `entities` entities. */
export function catalog(types: number, entities: number, seed = 42): Catalog {
  const rnd = prng(seed);
  const pick = <T>(list: T[]) => list[Math.floor(rnd() * list.length)];
  const video = formats(MEDIA.VIDEO, VIDEO_PROTOCOLS, VIDEO_CODECS);
  const audio = formats(MEDIA.AUDIO, AUDIO_PROTOCOLS, AUDIO_CODECS);
  const capabilities: EntityCapabilityInit[] = [];
  for (let i = 0; i < types; i++) {
    const pool = i % 3 === 2 ? audio : video;
    const transforms = Array.from({ length: 3 }, () => {
      const input = pick(pool);
      let output = pick(pool);
      while (output === input) output = pick(pool);
      return {
        input,
        output,
        cost: {
          cpu: 1 + Math.round(rnd() * 40) / 10,
          latencyMs: Math.round(rnd() * 100),
          qualityLoss: Math.round(rnd() * 20) / 100,
        },
      };
    });
    capabilities.push({
      entityType: `conv-${String(i).padStart(4, "0")}`,
      kind: KIND.CONVERTER,
      inputs: transforms.map((t) => t.input),
      outputs: transforms.map((t) => t.output),
      transforms,
    });
  }
  // Sources emit the first formats of each pool, sinks accept the last ones: every path
  // needs converters.
  for (let i = 0; i < 8; i++) {
    capabilities.push({
      entityType: `source-${i}`,
      kind: KIND.SOURCE,
      outputs: [video[i], audio[i % 5]],
    });
    capabilities.push({
      entityType: `sink-${i}`,
      kind: KIND.SINK,
      inputs: [video[video.length - 1 - i], audio[audio.length - 1 - (i % 5)]],
    });
  }
  const list: MessageInitShape<typeof EntitySchema>[] = [];
  const sources: string[] = [];
  const sinks: string[] = [];
  for (let i = 0; i < entities; i++) {
    const sink = i % 2 === 1;
    const id = `${sink ? "screen" : "camera"}-${String(i).padStart(5, "0")}`;
    (sink ? sinks : sources).push(id);
    list.push({
      id,
      entityType: `${sink ? "sink" : "source"}-${i % 8}`,
      kind: sink ? KIND.SINK : KIND.SOURCE,
      name: id,
      state: 2,
      origin: 2,
    });
  }
  return { capabilities, entities: list, sources, sinks };
}

/**
 * Path-finding: for each media type the target accepts and the source emits, the cheapest
 * chain of converter
 * transforms from a format the source emits to a format the target accepts. Dijkstra
 * over formats (nodes) and transforms (edges, cost `cpu + latency_ms / 10 +
 * quality_loss * 10`).
 *
 * Ties are broken deterministically, whatever order modules registered in: among paths
 * of equal cost the one with fewer hops wins, then the one whose hops, compared in order,
 * come first alphabetically by (module, entity type, output format); the source format
 * is compared first. Pure: no I/O.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { EntityKind, type MediaFormat, MediaType } from "@callassistant/protocol";
import { type MediaPath, MediaPathSchema, type PathHopSchema } from "@callassistant/protocol";
import type { ConverterEdge } from "../entities/capabilities.ts";
import { formatKey, mediaName, roundCost } from "../entities/formats.ts";
import { Code, RpcError } from "@callassistant/rpc";

/** The source or the target of a path. */
export interface PathEnd {
  entityId: string;
  entityType: string;
  module: string;
  kind: EntityKind;
  /** The source's outputs, or the target's inputs (normalized). */
  formats: MediaFormat[];
}

/** Why there is no path for one media type. */
export interface MissingPath {
  mediaType: string;
  /** Formats of that media type reachable from the source (source formats included). */
  reachable: string[];
  /** Formats of that media type the target accepts. */
  needed: string[];
}

/** FAILED_PRECONDITION: no path for at least one media type the target needs. */
export class NoPathError extends RpcError {
  constructor(readonly source: PathEnd, readonly target: PathEnd, readonly missing: MissingPath[]) {
    super(
      Code.FAILED_PRECONDITION,
      missing.map((m) => describeMissing(source, target, m)).join("; "),
      missing.map((m) => ({ ...m })),
    );
    this.name = "NoPathError";
  }
}

function strip(key: string): string {
  return key.slice(key.indexOf("/") + 1);
}

function describeMissing(source: PathEnd, target: PathEnd, m: MissingPath): string {
  const reachable = m.reachable.length
    ? `reachable ${m.mediaType} formats: ${m.reachable.map(strip).join(", ")}`
    : `the source emits no ${m.mediaType}`;
  return `no ${m.mediaType} path from "${source.entityId}" (${source.module}/${source.entityType}) ` +
    `to "${target.entityId}" (${target.module}/${target.entityType}): ${reachable}; ` +
    `needed: ${m.needed.map(strip).join(" or ")}`;
}

/** The media types in `formats`, video first. */
function mediaTypesOf(formats: MediaFormat[]): MediaType[] {
  const types = new Set(formats.map((f) => f.mediaType));
  return [MediaType.VIDEO, MediaType.AUDIO].filter((t) => types.has(t));
}

/**
 * The media types a flow carries: those the target accepts and the source emits, video
 * first. A target's declared input is not a demand: a screen that takes audio still shows
 * a camera without a microphone, and the flow carries what the source has.
 */
export function carriedMediaTypes(source: PathEnd, target: PathEnd): MediaType[] {
  const emitted = new Set(mediaTypesOf(source.formats));
  return mediaTypesOf(target.formats).filter((t) => emitted.has(t));
}

interface Label {
  cost: number;
  hops: number;
  /** The tie-break keys: the source format, then one per hop. */
  keys: string[];
  start: MediaFormat;
  edges: ConverterEdge[];
}

const EPSILON = 1e-9;

/** True when label `a` is strictly better than `b`. */
function better(a: Label, b: Label): boolean {
  if (Math.abs(a.cost - b.cost) > EPSILON) return a.cost < b.cost;
  if (a.hops !== b.hops) return a.hops < b.hops;
  for (let i = 0; i < a.keys.length; i++) {
    if (a.keys[i] !== b.keys[i]) return a.keys[i] < b.keys[i];
  }
  return false;
}

function edgeKey(e: ConverterEdge): string {
  return `${e.module}\u0000${e.entityType}\u0000${e.outputKey ?? formatKey(e.output)}`;
}

/** Shortest labels from the source's formats of `mediaType` to every reachable format. */
function dijkstra(
  mediaType: MediaType,
  sources: MediaFormat[],
  edges: ConverterEdge[],
): Map<string, Label> {
  const best = new Map<string, Label>();
  for (const start of sources) {
    if (start.mediaType !== mediaType) continue;
    const key = formatKey(start);
    const label: Label = { cost: 0, hops: 0, keys: [key], start, edges: [] };
    const known = best.get(key);
    if (!known || better(label, known)) best.set(key, label);
  }
  const byInput = new Map<string, ConverterEdge[]>();
  for (const e of edges) {
    if (e.input.mediaType !== mediaType || e.output.mediaType !== mediaType) continue;
    const key = e.inputKey ?? formatKey(e.input);
    const list = byInput.get(key);
    if (list) list.push(e);
    else byInput.set(key, [e]);
  }
  const settled = new Set<string>();
  while (true) {
    let current: [string, Label] | undefined;
    for (const entry of best) {
      if (!settled.has(entry[0]) && (!current || better(entry[1], current[1]))) current = entry;
    }
    if (!current) break;
    const [key, label] = current;
    settled.add(key);
    for (const e of byInput.get(key) ?? []) {
      const out = e.outputKey ?? formatKey(e.output);
      if (settled.has(out)) continue;
      const candidate: Label = {
        cost: roundCost(label.cost + e.cost),
        hops: label.hops + 1,
        keys: [...label.keys, edgeKey(e)],
        start: label.start,
        edges: [...label.edges, e],
      };
      const known = best.get(out);
      if (!known || better(candidate, known)) best.set(out, candidate);
    }
  }
  return best;
}

/** The cheapest path for one media type, or why there is none. */
export function cheapestPath(
  mediaType: MediaType,
  source: PathEnd,
  target: PathEnd,
  edges: ConverterEdge[],
): { path: MediaPath } | { missing: MissingPath } {
  const labels = dijkstra(mediaType, source.formats, edges);
  let found: { label: Label; format: MediaFormat } | undefined;
  for (const format of target.formats) {
    if (format.mediaType !== mediaType) continue;
    const label = labels.get(formatKey(format));
    if (label && (!found || better(label, found.label))) found = { label, format };
  }
  if (!found) {
    const needed = target.formats.filter((f) => f.mediaType === mediaType).map(formatKey);
    return {
      missing: {
        mediaType: mediaName(mediaType),
        reachable: [...labels.keys()].sort(),
        needed: [...new Set(needed)].sort(),
      },
    };
  }
  const { label, format } = found;
  const hops: MessageInitShape<typeof PathHopSchema>[] = [{
    mediaType,
    entityId: source.entityId,
    entityType: source.entityType,
    module: source.module,
    kind: source.kind,
    output: label.start,
    cost: 0,
  }];
  for (const e of label.edges) {
    hops.push({
      mediaType,
      entityId: "",
      entityType: e.entityType,
      module: e.module,
      kind: EntityKind.CONVERTER,
      input: e.input,
      output: e.output,
      cost: e.cost,
    });
  }
  hops.push({
    mediaType,
    entityId: target.entityId,
    entityType: target.entityType,
    module: target.module,
    kind: target.kind,
    input: format,
    cost: 0,
  });
  return { path: create(MediaPathSchema, { mediaType, hops, totalCost: label.cost }) };
}

/**
 * The cheapest path for every media type the target accepts and the source emits, video
 * first. Throws a NoPathError (FAILED_PRECONDITION) naming, per missing media type, the
 * formats that were reachable and the ones that were needed; FAILED_PRECONDITION too when
 * the target accepts nothing, or nothing the source emits.
 */
export function findPaths(
  source: PathEnd,
  target: PathEnd,
  edges: ConverterEdge[],
): { paths: MediaPath[]; totalCost: number } {
  const accepted = mediaTypesOf(target.formats);
  if (accepted.length === 0) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `entity "${target.entityId}" (${target.module}/${target.entityType}) accepts no media: ` +
        `its type declares no inputs`,
    );
  }
  const types = carriedMediaTypes(source, target);
  if (types.length === 0) {
    const names = (ts: MediaType[]) => ts.map(mediaName).join(" and ") || "no media";
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `entity "${source.entityId}" (${source.module}/${source.entityType}) emits ` +
        `${names(mediaTypesOf(source.formats))}; "${target.entityId}" (${target.module}/` +
        `${target.entityType}) accepts only ${names(accepted)}`,
    );
  }
  const paths: MediaPath[] = [];
  const missing: MissingPath[] = [];
  for (const type of types) {
    const result = cheapestPath(type, source, target, edges);
    if ("path" in result) paths.push(result.path);
    else missing.push(result.missing);
  }
  if (missing.length > 0) throw new NoPathError(source, target, missing);
  return { paths, totalCost: roundCost(paths.reduce((sum, p) => sum + p.totalCost, 0)) };
}

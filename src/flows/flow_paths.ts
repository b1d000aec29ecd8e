/**
 * Where a flow's media goes: checking its two ends, finding the cheapest path per media
 * type between them (pathfinder.ts), and describing a path for messages.
 */
import { EntityKind } from "@callassistant/protocol";
import type { MediaFormat, MediaPath } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { CapabilityIndex } from "../entities/capabilities.ts";
import { formatKey, isValidFormat, mediaName, normalizeFormat } from "../entities/formats.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import type { EntityRecord } from "../entities/entity_record.ts";
import { findPaths, type PathEnd } from "./pathfinder.ts";
import { badRequest } from "../api_conventions/error_details.ts";

/**
 * The source and target entities of a flow; INVALID_ARGUMENT when either is missing,
 * both are the same or one is a converter, NOT_FOUND when one is unknown.
 */
export function flowEnds(
  entities: EntityRegistry,
  sourceId: string,
  targetId: string,
): [EntityRecord, EntityRecord] {
  if (!sourceId) {
    throw badRequest(
      [{ field: "sourceEntityId", description: "is required" }],
      "source_entity_id is required",
    );
  }
  if (!targetId) {
    throw badRequest(
      [{ field: "targetEntityId", description: "is required" }],
      "target_entity_id is required",
    );
  }
  if (sourceId === targetId) {
    const why = "source and target must be different entities";
    throw badRequest([{ field: "targetEntityId", description: why }], why);
  }
  const source = entities.require(sourceId);
  const target = entities.require(targetId);
  if (source.kind === EntityKind.CONVERTER || target.kind === EntityKind.CONVERTER) {
    const which = source.kind === EntityKind.CONVERTER ? source : target;
    throw new RpcError(
      Code.INVALID_ARGUMENT,
      `entity "${which.id}" is a converter: flows run between sources, sinks and endpoints`,
    );
  }
  return [source, target];
}

/**
 * What a re-route leaves out, because the media watchdog saw it fail on this flow:
 * converter types by module (`"module/entity_type"`), and formats the target did not
 * present (`formatKey`).
 */
export interface RouteAvoid {
  converters: Set<string>;
  targetFormats: Set<string>;
}

/** What `findFlowPaths` searches: the catalog, the flow's two ends, and what to leave out. */
export interface FlowPathQuery {
  caps: CapabilityIndex;
  entities: EntityRegistry;
  sourceId: string;
  targetId: string;
  /** Count the converters of every known module, not only running ones (default false). */
  anyState?: boolean;
  /** The protocol the target must be reached over; any when empty (the default). */
  targetProtocol?: string;
  avoid?: RouteAvoid;
}

/**
 * The cheapest path per media type between two entities through the converters of the
 * running modules (every known module with `anyState`), reaching the target over
 * `targetProtocol` when given (INVALID_ARGUMENT when the target has no such input),
 * leaving out what `avoid` names. The ends' formats are their probed ones where their
 * module reported them (`EntityStatus.formats`), else their type's declared ones.
 */
export function findFlowPaths(query: FlowPathQuery) {
  const { caps, entities, sourceId, targetId, anyState = false, targetProtocol = "", avoid } =
    query;
  const [source, target] = flowEnds(entities, sourceId, targetId);
  const end = pathEnd(caps, target, "target");
  const protocol = targetProtocol.trim().toLowerCase();
  if (protocol) {
    const all = [...new Set(end.formats.map((f) => f.protocol.toLowerCase()))];
    end.formats = end.formats.filter((f) => f.protocol.toLowerCase() === protocol);
    if (end.formats.length === 0) {
      const why = `entity "${target.id}" (${target.module}/${target.entityType}) does ` +
        `not receive over "${protocol}"; it receives over: ${all.join(", ") || "nothing"}`;
      throw badRequest([{ field: "targetProtocol", description: why }], `target_protocol: ${why}`);
    }
  }
  // Left out after the protocol check: a target left with nothing is "no path".
  if (avoid?.targetFormats.size) {
    end.formats = end.formats.filter((f) => !avoid.targetFormats.has(formatKey(f)));
  }
  let edges = caps.converters(anyState);
  if (avoid?.converters.size) {
    edges = edges.filter((e) => !avoid.converters.has(`${e.module}/${e.entityType}`));
  }
  return findPaths(pathEnd(caps, source, "source"), end, edges);
}

/**
 * One end of a path, with the formats the entity really sends (a source) or takes (a
 * target) when its module probed them, else the ones its type declares.
 */
function pathEnd(caps: CapabilityIndex, e: EntityRecord, side: "source" | "target"): PathEnd {
  return {
    entityId: e.id,
    entityType: e.entityType,
    module: e.module,
    kind: e.kind,
    formats: probedFormats(e, side) ??
      (side === "source"
        ? caps.outputsOf(e.module, e.entityType)
        : caps.inputsOf(e.module, e.entityType)),
  };
}

/** The entity's probed formats for its side of a path; undefined when not probed. */
export function probedFormats(
  e: EntityRecord,
  side: "source" | "target",
): MediaFormat[] | undefined {
  const probed = e.status?.formats;
  if (!probed) return undefined;
  if (side === "source" && !probed.outputsProbed) return undefined;
  if (side === "target" && !probed.inputsProbed) return undefined;
  const list = side === "source" ? probed.outputs : probed.inputs;
  return list.filter(isValidFormat).map(normalizeFormat);
}

/** "video: cam > conv(media-converter) > tv | audio: ..." for messages and events. */
export function describeRoute(paths: MediaPath[]): string {
  return paths.map((p) =>
    `${mediaName(p.mediaType)}: ${
      p.hops.map((h) =>
        h.kind === EntityKind.CONVERTER ? `${h.module}/${h.entityType}` : h.entityId
      )
        .join(" > ")
    }`
  ).join(" | ");
}

/**
 * What a media re-route leaves out, and what a path's latency is declared to be: the
 * watchdog's choices of "another path" once re-establishing a stalled hop did not help
 * (flow_watchdog.ts), and of "a lower-latency path" for a flow over its `max_latency`.
 *
 * A stalled hop says who is at fault: a SENT side its sender, a RECEIVED or PRESENTED
 * side its receiver (the side before it had frames, or was not measured); a source's
 * SENT side its receiver (on a pulled link a source stops when nobody pulls). A converter at
 * fault is left out by its type and module (another module offering the same type may
 * serve); a target at fault did not present the format it was given, so that format is
 * left out of its inputs (a codec it cannot decode: the next path transcodes). A source
 * at fault cannot be routed around.
 */
import { EntityKind, type MediaPath, MediaSide } from "@callassistant/protocol";
import type { HopHealth } from "@callassistant/protocol";
import type { CapabilityIndex } from "../entities/capabilities.ts";
import { formatKey, normalizeFormat } from "../entities/formats.ts";
import type { RouteAvoid } from "./flow_paths.ts";
import type { FlowRecord } from "./flow_records.ts";

/** What to leave out next, or why nothing can be. */
export type NextAvoid = { avoid: RouteAvoid; left: string } | { none: string };

function copy(avoid: RouteAvoid | undefined): RouteAvoid {
  return {
    converters: new Set(avoid?.converters ?? []),
    targetFormats: new Set(avoid?.targetFormats ?? []),
  };
}

/** The flow's avoid list grown by what the stalled `hop` says is at fault. */
export function avoidAfterStall(flow: FlowRecord, hop: HopHealth): NextAvoid {
  const connection = flow.connections.find((c) => c.id === hop.connectionId);
  if (!connection) return { none: `connection ${hop.connectionId} is no longer in the flow` };
  // A SENT side is its sender's doing, a RECEIVED or PRESENTED side its receiver's. But a
  // source cannot be routed around, and on a pulled link it stops sending when its
  // receiver stops pulling: then the receiver is blamed.
  const hops = flow.paths.flatMap((p) => p.hops);
  const kindOf = (id: string) => hops.find((h) => h.entityId === id);
  let atFault = hop.side === MediaSide.SENT ? connection.sourceEntityId : connection.targetEntityId;
  if (atFault === flow.sourceEntityId) atFault = connection.targetEntityId;
  const pathHop = kindOf(atFault);
  const avoid = copy(flow.avoid);
  if (pathHop?.kind === EntityKind.CONVERTER) {
    const key = `${pathHop.module}/${pathHop.entityType}`;
    avoid.converters.add(key);
    return { avoid, left: `converter ${key}` };
  }
  if (atFault === flow.targetEntityId && connection.format) {
    const key = formatKey(normalizeFormat(connection.format));
    avoid.targetFormats.add(key);
    return { avoid, left: `${key} into "${flow.targetEntityId}"` };
  }
  return {
    none: `the stalled hop is the flow's source "${atFault}": no other path can help`,
  };
}

/** The flow's avoid list grown by the formats its target receives now. */
export function avoidCurrentTargetFormats(flow: FlowRecord): { avoid: RouteAvoid; left: string } {
  const avoid = copy(flow.avoid);
  const left: string[] = [];
  for (const p of flow.paths) {
    const input = p.hops.at(-1)?.input;
    if (!input) continue;
    const key = formatKey(normalizeFormat(input));
    avoid.targetFormats.add(key);
    left.push(key);
  }
  return { avoid, left: `${left.join(", ")} into "${flow.targetEntityId}"` };
}

/**
 * The latency the converters of a flow's paths declare (their transforms' `latency_ms`),
 * summed along each path; the largest over the media types.
 */
export function declaredLatencyMs(caps: CapabilityIndex, paths: MediaPath[]): number {
  let worst = 0;
  for (const p of paths) {
    let total = 0;
    for (const h of p.hops) {
      if (h.kind !== EntityKind.CONVERTER || !h.input || !h.output) continue;
      const input = formatKey(normalizeFormat(h.input));
      const output = formatKey(normalizeFormat(h.output));
      const t = caps.find(h.module, h.entityType)?.transforms.find((t) =>
        t.input && t.output && formatKey(normalizeFormat(t.input)) === input &&
        formatKey(normalizeFormat(t.output)) === output
      );
      total += t?.cost?.latencyMs ?? 0;
    }
    worst = Math.max(worst, total);
  }
  return worst;
}

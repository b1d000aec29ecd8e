/**
 * The media watchdog: judges every running flow by the `MediaStats` its modules report
 * (flow_health.ts) about twice a second, and heals a flow whose media stopped while
 * every process stays alive.
 *
 * Steps, each an event naming the hop with its figures:
 * 1. `flow.stalled`: the first hop in path order with no new frame for its stall timeout
 *    (or no first frame within `first_frame_timeout`): the flow goes DEGRADED naming it.
 * 2. `flow.reestablishing` / `flow.reestablished`: that hop's module is asked to
 *    `ReestablishConnection`; a module answering UNIMPLEMENTED has the connection rebuilt
 *    (DisconnectEntities, ConnectEntities, StartFlow). Then a second window of the same
 *    length: frames back on every measured hop make the flow ACTIVE again
 *    (`flow.media_recovered`, with the time it took).
 * 3. `flow.rerouting`: still no frames: the flow is re-routed through another path,
 *    leaving out what failed (flow_reroute.ts), then judged afresh (`flow.rerouted`).
 * 4. No other path: FAILED with the reason.
 *
 * Latency: a flow whose end-to-end latency stays over its `max_latency` for a stall
 * window is DEGRADED (`flow.slow`) and re-routed when a path with a lower declared
 * latency exists; ACTIVE again once the latency is back under the limit.
 *
 * A flow none of whose modules ever reported media is not watched (`health.watched`
 * false): it is judged by its modules' states alone, as before.
 *
 * Past 400 lines on purpose: the steps above are one state machine per flow whose
 * transitions share the watch record and must re-check, after every await, that the flow
 * is still the one they started on (`#stillOurs`); judging (flow_health.ts) and choosing
 * a new path (flow_reroute.ts) are already apart.
 */
import { durationMs } from "@bufbuild/protobuf/wkt";
import {
  type FlowHealth,
  FlowState,
  type HopHealth,
  HopState,
  MediaSide,
  type MediaStats,
  Severity,
} from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { CapabilityIndex } from "../entities/capabilities.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import {
  type ModuleCaller,
  ModuleCallError,
  type ModuleDirectory,
} from "../module_calls/module_caller.ts";
import type { FlowBuilder } from "./flow_builder.ts";
import {
  allFlowing,
  DEFAULT_FIRST_FRAME_TIMEOUT_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  describeHop,
  firstHopIn,
  judgeFlow,
  type MediaReport,
  sideKey,
} from "./flow_health.ts";
import { describeRoute, findFlowPaths, type RouteAvoid } from "./flow_paths.ts";
import type { FlowRecord, FlowRecords } from "./flow_records.ts";
import type { FlowRecovery } from "./flow_recovery.ts";
import { avoidAfterStall, avoidCurrentTargetFormats, declaredLatencyMs } from "./flow_reroute.ts";
import type { FlowTasks } from "./flow_tasks.ts";

/** Deadline of a ReestablishConnection call (the contract's). */
const REESTABLISH_TIMEOUT_MS = 10_000;

/** What the watchdog needs. */
export interface FlowWatchdogOptions {
  flows: FlowRecords;
  recovery: FlowRecovery;
  builder: FlowBuilder;
  tasks: FlowTasks;
  caller: ModuleCaller;
  modules: ModuleDirectory;
  caps: CapabilityIndex;
  entities: EntityRegistry;
  bus: EventBus;
  logger: Logger;
  /** How often flows are judged; 0 turns the timer off (tests call `tick`). Default 500 ms. */
  intervalMs?: number;
}

/** What the watchdog observed of a flow, for `/metrics` (flow_media_metrics.ts). */
export interface MediaObserver {
  /** A hop's latency figure came in (ms). */
  latency?(flowId: string, hop: { connectionId: string; side: MediaSide }, ms: number): void;
  /** The flow's target presented its first frame this long after the (re)start. */
  firstFrame?(flowId: string, ms: number): void;
}

/** Where the watchdog is with one flow. */
type Step = "watching" | "busy" | "recovering";

/** The watchdog's memory of one flow. */
interface Watch {
  startedAt: number;
  reports: Map<string, MediaReport>;
  everReported: Set<string>;
  health?: FlowHealth;
  step: Step;
  /** Counts the watchdog's cycles: a background step of an older cycle changes nothing. */
  gen: number;
  /** The hop that stalled, while recovering from it. */
  stalled?: HopHealth;
  detectedAt: number;
  deadline: number;
  /** True while the flow is DEGRADED by the watchdog (its own judgement, not a module's). */
  holding: boolean;
  slowSince?: number;
  slowHandled: boolean;
  firstFrameSeen: boolean;
  stalls: number;
  reestablishments: number;
  reroutes: number;
}

/** Judges flows by their media and heals the ones that stall. */
export class FlowWatchdog {
  readonly #watches = new Map<string, Watch>();
  #timer?: ReturnType<typeof setInterval>;
  readonly #observers: MediaObserver[] = [];

  readonly #options: FlowWatchdogOptions;

  constructor(options: FlowWatchdogOptions) {
    this.#options = options;
  }

  /** Starts judging on a timer. */
  start(): void {
    const interval = this.#options.intervalMs ?? 500;
    if (interval <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      try {
        this.tick();
      } catch (err) {
        this.#options.logger.warn("media watchdog failed", { error: String(err) });
      }
    }, interval);
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Adds an observer of latencies and first frames (the metrics). */
  observe(observer: MediaObserver): void {
    this.#observers.push(observer);
  }

  /** The counters of a flow: stalls, re-establishments, re-routes (for `/metrics`). */
  counters(flowId: string): { stalls: number; reestablishments: number; reroutes: number } {
    const w = this.#watches.get(flowId);
    return {
      stalls: w?.stalls ?? 0,
      reestablishments: w?.reestablishments ?? 0,
      reroutes: w?.reroutes ?? 0,
    };
  }

  /** Forgets a deleted flow. */
  forget(flowId: string): void {
    this.#watches.delete(flowId);
  }

  /** True while the watchdog holds the flow DEGRADED (module reports do not lift it). */
  holds(flow: FlowRecord): boolean {
    const w = this.#watches.get(flow.id);
    return w !== undefined && (w.holding || w.step !== "watching");
  }

  /**
   * The flow's media started over on `modules` (StartFlow): their earlier figures are
   * void; the others' stand (their counters go on).
   */
  onStarted(flow: FlowRecord, modules: string[]): void {
    const w = this.#watch(flow);
    w.startedAt = Date.now();
    for (const m of modules) w.reports.delete(m);
    // Rebuilt whole by someone else (a module came back, a start by hand) while waiting
    // out a second window: that cycle is over, the new path is judged afresh.
    const all = this.#options.flows.modulesOf(flow).every((m) => modules.includes(m));
    if (all && w.step === "recovering") {
      w.gen++;
      w.step = "watching";
      w.stalled = undefined;
      w.holding = false;
    }
    const target = this.#options.flows.moduleOfEntity(flow, flow.targetEntityId);
    if (target && modules.includes(target)) w.firstFrameSeen = false;
  }

  /** A module reported media for a flow (ReportStatus or a GetFlowStatus answer). */
  onMedia(flow: FlowRecord, module: string, media: MediaStats[]): void {
    if (media.length === 0) return;
    const w = this.#watch(flow);
    w.reports.set(module, { media, receivedAt: Date.now() });
    for (const m of media) {
      const connection = flow.connections.find((c) => c.id === m.connectionId);
      if (!connection || !m.side) continue;
      const entity = m.side === MediaSide.SENT
        ? connection.sourceEntityId
        : connection.targetEntityId;
      w.everReported.add(sideKey(module, entity, m.side));
      if (m.latencyMs > 0) {
        for (const o of this.#observers) {
          o.latency?.(flow.id, { connectionId: m.connectionId, side: m.side }, m.latencyMs);
        }
      }
    }
  }

  /** The flow's health now, with the watchdog's counters. */
  health(flow: FlowRecord): FlowHealth {
    const w = this.#watch(flow);
    const { flows } = this.#options;
    const limits = flow.mediaLimits;
    const health = judgeFlow({
      connections: flow.connections,
      moduleOf: (id) => flows.moduleOfEntity(flow, id),
      reports: w.reports,
      everReported: w.everReported,
      startedAt: w.startedAt,
      now: Date.now(),
      stallTimeoutMs: (module) => this.stallTimeoutMs(flow, module),
      firstFrameTimeoutMs: limits.firstFrameTimeout
        ? durationMs(limits.firstFrameTimeout)
        : DEFAULT_FIRST_FRAME_TIMEOUT_MS,
      maxLatencyMs: limits.maxLatency ? durationMs(limits.maxLatency) : 0,
      previous: w.health,
    });
    health.stalls = w.stalls;
    health.reestablishments = w.reestablishments;
    health.reroutes = w.reroutes;
    w.health = health;
    return health;
  }

  /** The stall timeout of the hops `module` measures on `flow`. */
  stallTimeoutMs(flow: FlowRecord, module: string): number {
    if (flow.mediaLimits.stallTimeout) return durationMs(flow.mediaLimits.stallTimeout);
    return this.#options.modules.stallTimeoutMs?.(module) ?? DEFAULT_STALL_TIMEOUT_MS;
  }

  /** Judges every running flow once and takes the next step where one is due. */
  tick(): void {
    const { flows, tasks } = this.#options;
    if (tasks.closed) return;
    for (const flow of flows.sorted()) {
      const w = this.#watch(flow);
      if (!flow.wanted) {
        w.step = "watching";
        w.holding = false;
        continue;
      }
      if (w.step === "busy") continue;
      if (!flow.established) continue;
      if (flow.state !== FlowState.ACTIVE && flow.state !== FlowState.DEGRADED) continue;
      const health = this.health(flow);
      if (!health.watched) continue;
      if (health.timeToFirstFrame && !w.firstFrameSeen) {
        w.firstFrameSeen = true;
        const ms = durationMs(health.timeToFirstFrame);
        for (const o of this.#observers) o.firstFrame?.(flow.id, ms);
      }
      if (w.step === "recovering") this.#whileRecovering(flow, w, health);
      else this.#whileWatching(flow, w, health);
    }
  }

  #whileWatching(flow: FlowRecord, w: Watch, health: FlowHealth): void {
    const { flows, bus, tasks } = this.#options;
    const stalled = culprit(health);
    if (stalled) {
      w.stalls++;
      w.step = "busy";
      const gen = ++w.gen;
      w.holding = true;
      w.stalled = stalled;
      w.detectedAt = Date.now();
      const what = `media stalled at ${describeHop(stalled)}: ${stalled.message}`;
      bus.publish({
        type: "flow.stalled",
        severity: Severity.WARNING,
        flowId: flow.id,
        module: stalled.module,
        entityId: stalled.entityId,
        message: `flow "${flow.id}": ${what}`,
        data: { ...hopData(stalled), stallTimeoutMs: this.stallTimeoutMs(flow, stalled.module) },
      });
      flows.setState(flow, FlowState.DEGRADED, what);
      tasks.background(`re-establish ${flow.id}`, () => this.#reestablish(flow, w, stalled, gen));
      return;
    }
    // Latency: over the limit for a stall window.
    const maxMs = flow.mediaLimits.maxLatency ? durationMs(flow.mediaLimits.maxLatency) : 0;
    const slowHop = firstHopIn(health, HopState.SLOW);
    const slow = maxMs > 0 && (health.latencyMs > maxMs || slowHop !== undefined);
    const now = Date.now();
    if (slow) {
      w.slowSince ??= now;
      const window = this.stallTimeoutMs(
        flow,
        flows.moduleOfEntity(flow, flow.targetEntityId) ?? "",
      );
      if (!w.slowHandled && now - w.slowSince >= window) {
        w.slowHandled = true;
        w.holding = true;
        const latency = Math.round(health.latencyMs || slowHop?.stats?.latencyMs || 0);
        const what = `latency ${latency} ms over max_latency ${maxMs} ms${
          slowHop ? ` at ${describeHop(slowHop)}` : ""
        }`;
        bus.publish({
          type: "flow.slow",
          severity: Severity.WARNING,
          flowId: flow.id,
          module: slowHop?.module,
          entityId: slowHop?.entityId,
          message: `flow "${flow.id}": ${what}`,
          data: { latencyMs: latency, maxLatencyMs: maxMs, ...(slowHop ? hopData(slowHop) : {}) },
        });
        flows.setState(flow, FlowState.DEGRADED, what);
        w.step = "busy";
        const gen = ++w.gen;
        tasks.background(`lower latency ${flow.id}`, () => this.#lowerLatency(flow, w, what, gen));
      }
      return;
    }
    w.slowSince = undefined;
    w.slowHandled = false;
    if (w.holding && allFlowing(health)) {
      w.holding = false;
      if (flow.state === FlowState.DEGRADED) {
        flows.setState(flow, FlowState.ACTIVE, "media flowing on every measured hop");
      }
    }
  }

  #whileRecovering(flow: FlowRecord, w: Watch, health: FlowHealth): void {
    const { flows, bus, tasks } = this.#options;
    const hop = w.stalled!;
    if (allFlowing(health)) {
      const afterMs = Date.now() - w.detectedAt;
      w.step = "watching";
      w.holding = false;
      w.stalled = undefined;
      const what = `frames flowing again at ${describeHop(hop)} ${
        (afterMs / 1000).toFixed(1)
      } s after the stall was detected`;
      bus.publish({
        type: "flow.media_recovered",
        flowId: flow.id,
        module: hop.module,
        entityId: hop.entityId,
        message: `flow "${flow.id}": ${what}`,
        data: { ...hopData(hop), afterMs },
      });
      flows.setState(flow, FlowState.ACTIVE, what);
      return;
    }
    if (Date.now() < w.deadline) return;
    // The hop that stalled has frames again: re-establishing it helped. What still stalls
    // after it is another hop's own matter, a new cycle (the flow stays DEGRADED).
    const now = health.hops.find((h) =>
      h.connectionId === hop.connectionId && h.side === hop.side && h.module === hop.module
    );
    if (now && (now.state === HopState.FLOWING || now.state === HopState.SLOW)) {
      w.step = "watching";
      w.stalled = undefined;
      return;
    }
    w.step = "busy";
    const window = (this.stallTimeoutMs(flow, hop.module) / 1000).toFixed(1);
    const reason = `media stalled at ${describeHop(hop)}: ${hop.message}; re-establishing ` +
      `did not bring frames back within ${window} s`;
    const still = culprit(health) ?? hop;
    const gen = w.gen;
    tasks.background(`re-route ${flow.id}`, () => this.#rerouteAround(flow, w, still, reason, gen));
  }

  /** Step 2: ask the hop's module to re-establish the connection (or rebuild it). */
  async #reestablish(
    flow: FlowRecord,
    w: Watch,
    hop: HopHealth,
    gen: number,
  ): Promise<void> {
    const { bus, caller, logger } = this.#options;
    try {
      if (!this.#stillOurs(flow, w)) return;
      const reason = hop.message;
      bus.publish({
        type: "flow.reestablishing",
        flowId: flow.id,
        module: hop.module,
        entityId: hop.entityId,
        message:
          `flow "${flow.id}": asking module "${hop.module}" to re-establish connection ${hop.connectionId}`,
        data: hopData(hop),
      });
      w.reestablishments++;
      let method = "ReestablishConnection";
      let answer = "";
      try {
        const res = await caller.call(
          hop.module,
          "ReestablishConnection",
          (c, o) =>
            c.pipeline.reestablishConnection(
              { flowId: flow.id, connectionId: hop.connectionId, reason },
              o,
            ),
          REESTABLISH_TIMEOUT_MS,
        );
        answer = res.message;
      } catch (err) {
        if (!(err instanceof ModuleCallError && err.code === Code.UNIMPLEMENTED)) throw err;
        method = "DisconnectEntities, ConnectEntities, StartFlow";
        answer = await this.#rebuildConnection(flow, hop.connectionId);
      }
      bus.publish({
        type: "flow.reestablished",
        flowId: flow.id,
        module: hop.module,
        entityId: hop.entityId,
        message: `flow "${flow.id}": connection ${hop.connectionId} re-established by ${method}${
          answer ? `: ${answer}` : ""
        }`,
        data: { ...hopData(hop), method, answer },
      });
    } catch (err) {
      logger.warn("re-establishing a connection failed", {
        flow: flow.id,
        connection: hop.connectionId,
        error: (err as Error).message,
      });
      bus.publish({
        type: "flow.reestablished",
        severity: Severity.WARNING,
        flowId: flow.id,
        module: hop.module,
        message: `flow "${flow.id}": re-establishing connection ${hop.connectionId} failed: ${
          (err as Error).message
        }`,
        data: { ...hopData(hop), error: (err as Error).message },
      });
    }
    // The second window, whatever the answer: frames back, or a re-route.
    if (w.gen !== gen) return;
    w.deadline = Date.now() + this.stallTimeoutMs(flow, hop.module);
    w.step = "recovering";
    this.#options.logger.debug("media watchdog: second window", {
      flow: flow.id,
      until: w.deadline,
    });
  }

  /** The fallback of a module without ReestablishConnection: the connection made again. */
  async #rebuildConnection(flow: FlowRecord, connectionId: string): Promise<string> {
    const { flows, builder, caller } = this.#options;
    const connection = flow.connections.find((c) => c.id === connectionId);
    if (!connection) throw new Error(`connection ${connectionId} is no longer in the flow`);
    const sender = flows.moduleOfEntity(flow, connection.sourceEntityId) ?? "";
    const receiver = flows.moduleOfEntity(flow, connection.targetEntityId) ?? "";
    for (const module of new Set([receiver, sender])) {
      await caller.call(
        module,
        "DisconnectEntities",
        (c, o) => c.pipeline.disconnectEntities({ connectionId, flowId: flow.id }, o),
      );
    }
    connection.address = await builder.connect(connection, sender, receiver);
    await builder.startModules(flow, [], [receiver, sender]);
    return `connection rebuilt between "${sender}" and "${receiver}" at ${connection.address}`;
  }

  /** Step 3: re-route around what failed, or FAILED when nothing else can carry the flow. */
  async #rerouteAround(
    flow: FlowRecord,
    w: Watch,
    hop: HopHealth,
    reason: string,
    gen: number,
  ): Promise<void> {
    try {
      if (!this.#stillOurs(flow, w)) return;
      const next = avoidAfterStall(flow, hop);
      if ("none" in next) {
        await this.#fail(flow, w, `${reason}; ${next.none}`);
        return;
      }
      await this.#reroute(flow, w, next.avoid, reason, next.left);
    } finally {
      if (w.gen === gen && w.step === "busy") w.step = "watching";
    }
  }

  /** Latency over the limit: a path with a lower declared latency, when there is one. */
  async #lowerLatency(
    flow: FlowRecord,
    w: Watch,
    reason: string,
    gen: number,
  ): Promise<void> {
    try {
      if (!this.#stillOurs(flow, w)) return;
      const { caps } = this.#options;
      const next = avoidCurrentTargetFormats(flow);
      let candidate;
      try {
        candidate = this.#findPaths(flow, next.avoid);
      } catch (err) {
        if (!noPath(err)) throw err;
        this.#noLowerLatency(flow, reason, "no other path");
        return;
      }
      const now = declaredLatencyMs(caps, flow.paths);
      const then = declaredLatencyMs(caps, candidate.paths);
      if (then >= now) {
        this.#noLowerLatency(
          flow,
          reason,
          `the other path declares ${then} ms, not less than ${now} ms`,
        );
        return;
      }
      await this.#reroute(flow, w, next.avoid, reason, next.left);
    } finally {
      if (w.gen === gen && w.step === "busy") w.step = "watching";
    }
  }

  #noLowerLatency(flow: FlowRecord, reason: string, why: string): void {
    this.#options.flows.setState(
      flow,
      FlowState.DEGRADED,
      `${reason}; no lower-latency path: ${why}`,
    );
  }

  /** Re-routes the flow leaving out `avoid`; FAILED when no path is left. */
  async #reroute(
    flow: FlowRecord,
    w: Watch,
    avoid: RouteAvoid,
    reason: string,
    left: string,
  ): Promise<void> {
    const { flows, bus, recovery } = this.#options;
    try {
      this.#findPaths(flow, avoid);
    } catch (err) {
      if (!noPath(err)) throw err;
      flow.avoid = avoid;
      await this.#fail(flow, w, `${reason}; no other path without ${left}: ${err.message}`);
      return;
    }
    flow.avoid = avoid;
    const before = describeRoute(flow.paths);
    bus.publish({
      type: "flow.rerouting",
      severity: Severity.WARNING,
      flowId: flow.id,
      message: `flow "${flow.id}": re-routing without ${left} (${reason})`,
      data: { reason, left, from: before },
    });
    flows.setState(flow, FlowState.DEGRADED, `re-routing without ${left}: ${reason}`);
    w.reroutes++;
    flow.established = false;
    await recovery.recover(flow);
    // The new path is judged afresh.
    w.holding = false;
    w.stalled = undefined;
    w.slowSince = undefined;
    w.slowHandled = false;
  }

  async #fail(flow: FlowRecord, w: Watch, reason: string): Promise<void> {
    await this.#options.builder.teardown(flow);
    this.#options.flows.setState(flow, FlowState.FAILED, reason);
    w.holding = false;
    w.stalled = undefined;
  }

  #findPaths(flow: FlowRecord, avoid: RouteAvoid) {
    const { caps, entities } = this.#options;
    return findFlowPaths({
      caps,
      entities,
      sourceId: flow.sourceEntityId,
      targetId: flow.targetEntityId,
      targetProtocol: flow.targetProtocol,
      avoid,
    });
  }

  /** True while the flow still runs as the watchdog left it (not stopped or deleted since). */
  #stillOurs(flow: FlowRecord, w: Watch): boolean {
    const ours = this.#options.flows.has(flow.id) && flow.wanted && flow.established;
    if (!ours) {
      w.step = "watching";
      w.holding = false;
    }
    return ours;
  }

  #watch(flow: FlowRecord): Watch {
    let w = this.#watches.get(flow.id);
    if (!w) {
      w = {
        startedAt: Date.now(),
        reports: new Map(),
        everReported: new Set(),
        step: "watching",
        gen: 0,
        detectedAt: 0,
        deadline: 0,
        holding: false,
        slowHandled: false,
        firstFrameSeen: false,
        stalls: 0,
        reestablishments: 0,
        reroutes: 0,
      };
      this.#watches.set(flow.id, w);
    }
    return w;
  }
}

/**
 * True for "no path": none per media type (NoPathError), or nothing left the target
 * takes once formats are left out; both FAILED_PRECONDITION.
 */
function noPath(err: unknown): err is RpcError {
  return err instanceof RpcError && err.code === Code.FAILED_PRECONDITION;
}

/**
 * The hop to blame once some hop is STALLED: the first in path order that has no new
 * frames, WAITING ones included (a side restarted and silent since is upstream of the
 * stale sides after it).
 */
function culprit(health: FlowHealth): HopHealth | undefined {
  if (!firstHopIn(health, HopState.STALLED)) return undefined;
  return health.hops.find((h) => h.state === HopState.STALLED || h.state === HopState.WAITING);
}

/** The hop and its figures, for an event's data. */
function hopData(hop: HopHealth): { [k: string]: string | number } {
  const s = hop.stats;
  const data: { [k: string]: string | number } = {
    connectionId: hop.connectionId,
    side: MediaSide[hop.side] ?? String(hop.side),
    module: hop.module,
    entityId: hop.entityId,
    state: HopState[hop.state] ?? String(hop.state),
    reason: hop.message,
  };
  if (s) {
    data.frames = Number(s.frames);
    data.fps = s.fps;
    data.bitrateKbps = s.bitrateKbps;
    if (s.latencyMs) data.latencyMs = s.latencyMs;
    if (s.lastFrameAt && s.measuredAt) {
      data.lastFrameAgeMs = Number(s.measuredAt.seconds - s.lastFrameAt.seconds) * 1000 +
        Math.round((s.measuredAt.nanos - s.lastFrameAt.nanos) / 1e6);
    }
  }
  return data;
}

/**
 * The orchestrator's Prometheus metrics (`GET /metrics`, text format 0.0.4), with the
 * small client in `prom.ts` (no dependencies, no file reads: fine under `deno compile`).
 *
 * Families (all `callassistant_` unless noted):
 * - `module_state{module,state}` 1 for the module's current state, 0 for the others;
 *   `module_up{module}`, `module_restarts_total{module}` (never reset by a start by hand),
 *   `module_start_time_seconds{module}` (while running),
 *   `module_event_channel_up{module}` (an open EventService.Connect stream).
 * - `module_rpc_duration_seconds{module,method,code}`: orchestrator-to-module calls.
 * - `http_request_duration_seconds{method,route,code}` (code: the HTTP status): gateway requests (route is the
 *   path template, e.g. `/v1/modules/{name}`; streams are measured to their headers).
 * - `grpc_server_duration_seconds{method,code}`: calls to the orchestrator's gRPC server.
 * - `events_total{source,module,type}`, `events_throttled_total{module,kind}`,
 *   `event_history_events`, `event_watchers`.
 * - `flows{state}` from the flows area's callback, every state (0 when none).
 * - `build_info{version,deno,v8,typescript,target}` 1 (`build_info.ts`).
 * - the standard `process_*` metrics (`process_metrics.ts`), `deno_memory_heap_total_bytes`,
 *   `deno_memory_heap_used_bytes`, `deno_memory_external_bytes`.
 * - `module_<name>{module,...}`: samples modules report with ReportMetrics.
 */
import * as client from "./prom.ts";
import { FlowState, ModuleState } from "@callassistant/protocol";
import { registerBuildInfo } from "./build_info.ts";
import { registerProcessMetrics } from "./process_metrics.ts";
import type { EventBus } from "../events/event_bus.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import { Code } from "@callassistant/rpc";
import type { ModuleMetricsStore } from "./module_metrics.ts";
import { registerResourceMetrics } from "./resource_metrics.ts";

const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** Distinct (source, module, type) label sets kept for events_total; then type="_other". */
const MAX_EVENT_SERIES = 2000;

const STATE_NAMES = Object.entries(ModuleState)
  .filter(([k, v]) => typeof v === "number" && v !== ModuleState.UNSPECIFIED && isNaN(Number(k)))
  .map(([k, v]) => [k, v as ModuleState] as const);

/** Every flow state by its short name (ACTIVE), as the flows area counts them. */
const FLOW_STATE_NAMES: readonly string[] = Object.keys(FlowState)
  .filter((k) => isNaN(Number(k)) && k !== "UNSPECIFIED");

/** What the metrics read at scrape time. */
export interface MetricsSources {
  registry: ModuleRegistry;
  bus: EventBus;
  /** Module-reported samples. */
  moduleMetrics?: ModuleMetricsStore;
  /** Modules with an open EventService.Connect stream. */
  connectedModules?: () => string[];
  /** Flows per state, e.g. `{ACTIVE: 2}`; the flows area provides it. */
  flowStates?: () => Map<string, number>;
}

/** The orchestrator's metrics registry. */
export class Metrics {
  readonly registry = new client.Registry();
  #flowStates?: () => Map<string, number>;
  readonly #eventSeries = new Set<string>();

  /** Orchestrator-to-module call latency. */
  readonly moduleRpc = new client.Histogram({
    name: "callassistant_module_rpc_duration_seconds",
    help: "Duration of orchestrator-to-module gRPC calls by module, method and status code.",
    labelNames: ["module", "method", "code"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** Gateway request latency. */
  readonly httpRequests = new client.Histogram({
    name: "callassistant_http_request_duration_seconds",
    help: "Duration of HTTP gateway requests by method, route template and status code " +
      "(streaming responses until their headers).",
    labelNames: ["method", "route", "code"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** gRPC server call latency. */
  readonly grpcServer = new client.Histogram({
    name: "callassistant_grpc_server_duration_seconds",
    help: "Duration of calls to the orchestrator's gRPC server by method and status code " +
      "(streams for their whole life).",
    labelNames: ["method", "code"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** Events published, by source, module and type. */
  readonly events = new client.Counter({
    name: "callassistant_events_total",
    help: "Events published on the event bus by source (orchestrator or module), module and type.",
    labelNames: ["source", "module", "type"] as const,
    registers: [this.registry],
  });

  /** Reports refused by flood control. */
  readonly throttled = new client.Counter({
    name: "callassistant_events_throttled_total",
    help: "Module reports refused by flood control (RESOURCE_EXHAUSTED), by module and kind.",
    labelNames: ["module", "kind"] as const,
    registers: [this.registry],
  });

  readonly #sources: MetricsSources;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    this.#flowStates = sources.flowStates;
    const { registry, bus } = sources;
    const reg = [this.registry];
    new client.Gauge({
      name: "callassistant_module_state",
      help: "1 for the module's current state, 0 for the others.",
      labelNames: ["module", "state"] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const r of registry.list()) {
          for (const [name, value] of STATE_NAMES) {
            this.set({ module: r.name, state: name }, r.state === value ? 1 : 0);
          }
        }
      },
    });
    new client.Gauge({
      name: "callassistant_module_up",
      help: "1 when the module is READY or DEGRADED.",
      labelNames: ["module"] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const r of registry.list()) {
          const up = r.state === ModuleState.READY || r.state === ModuleState.DEGRADED;
          this.set({ module: r.name }, up ? 1 : 0);
        }
      },
    });
    new client.Counter({
      name: "callassistant_module_restarts_total",
      help: "Automatic restarts of the module (every instance) since the orchestrator started; " +
        "a start by hand does not reset it.",
      labelNames: ["module"] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const r of registry.list()) {
          const total = [r, ...r.replicas].reduce((n, i) => n + i.restartsTotal, 0);
          this.inc({ module: r.name }, total);
        }
      },
    });
    new client.Gauge({
      name: "callassistant_module_start_time_seconds",
      help: "Start time of the module's current process since unix epoch in seconds; " +
        "no sample while it is not running.",
      labelNames: ["module"] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const r of registry.list()) {
          if (r.pid > 0 && r.startedAt) this.set({ module: r.name }, r.startedAt.getTime() / 1000);
        }
      },
    });
    new client.Gauge({
      name: "callassistant_module_event_channel_up",
      help: "1 while the module has an open EventService.Connect stream.",
      labelNames: ["module"] as const,
      registers: reg,
      collect() {
        this.reset();
        const connected = new Set(sources.connectedModules?.() ?? []);
        for (const r of registry.list()) {
          this.set({ module: r.name }, connected.has(r.name) ? 1 : 0);
        }
      },
    });
    const flowStates = () => this.#flowStates?.() ?? new Map<string, number>();
    new client.Gauge({
      name: "callassistant_flows",
      help: "Flows by state; every state has a sample (0 when no flow is in it).",
      labelNames: ["state"] as const,
      registers: reg,
      collect() {
        this.reset();
        const counts = flowStates();
        for (const state of FLOW_STATE_NAMES) this.set({ state }, counts.get(state) ?? 0);
        // A state the table above does not know still shows.
        for (const [state, n] of counts) {
          if (!FLOW_STATE_NAMES.includes(state)) this.set({ state }, n);
        }
      },
    });
    new client.Gauge({
      name: "callassistant_event_history_events",
      help: "Events held in the event history.",
      registers: reg,
      collect() {
        this.set(bus.size);
      },
    });
    new client.Gauge({
      name: "callassistant_event_watchers",
      help: "Open event streams (WatchEvents).",
      registers: reg,
      collect() {
        this.set(bus.watchers);
      },
    });
    registerProcessMetrics(this.registry);
    new client.Gauge({
      name: "deno_memory_heap_total_bytes",
      help: "JavaScript heap allocated by V8 in bytes.",
      registers: reg,
      collect() {
        this.set(Deno.memoryUsage().heapTotal);
      },
    });
    new client.Gauge({
      name: "deno_memory_heap_used_bytes",
      help: "JavaScript heap in use in bytes.",
      registers: reg,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
    new client.Gauge({
      name: "deno_memory_external_bytes",
      help: "Memory of objects outside the JavaScript heap (buffers) in bytes.",
      registers: reg,
      collect() {
        this.set(Deno.memoryUsage().external);
      },
    });
    registerBuildInfo(this.registry);
    registerResourceMetrics(this.registry, registry);

    bus.subscribe((event) => {
      const module = event.module;
      let type = event.type;
      const key = `${event.source}\u0000${module}\u0000${type}`;
      if (!this.#eventSeries.has(key)) {
        if (this.#eventSeries.size >= MAX_EVENT_SERIES) type = "_other";
        else this.#eventSeries.add(key);
      }
      this.events.inc({ source: event.source || "orchestrator", module, type });
    });
  }

  /** Sets the flows-per-state callback (the flows area calls it once). */
  setFlowStates(fn: () => Map<string, number>): void {
    this.#flowStates = fn;
  }

  /** Records an orchestrator-to-module call. */
  observeModuleCall(module: string, method: string, code: Code, seconds: number): void {
    this.moduleRpc.observe({ module, method, code: Code[code] ?? String(code) }, seconds);
  }

  /** Records a gateway request. */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.observe({ method, route, code: String(status) }, seconds);
  }

  /** Records a call to the gRPC server. */
  observeGrpc(method: string, code: Code, seconds: number): void {
    this.grpcServer.observe({ method, code: Code[code] ?? String(code) }, seconds);
  }

  /** Records a throttled report. */
  observeThrottled(module: string, kind: string): void {
    this.throttled.inc({ module, kind });
  }

  /** The whole exposition: the orchestrator's families, then the modules' own. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    const modules =
      this.#sources.moduleMetrics?.render((module, token) =>
        this.#sources.registry.get(module)?.token === token
      ) ?? "";
    return own.endsWith("\n") || own === "" ? own + modules : `${own}\n${modules}`;
  }
}

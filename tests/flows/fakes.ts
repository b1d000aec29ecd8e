/**
 * In-memory modules for unit tests of the entity and flow areas: each fake module has
 * capabilities, entities and the SDK's FlowTable behind clients with the generated
 * services' method names, records every call in order, and can be told to fail one.
 * States change through `setState`, notifying watchers like the real registry.
 */
import { create, type DescService, type JsonObject } from "@bufbuild/protobuf";
import type { EntityCapabilityInit } from "../../packages/sdk-ts/module.ts";
import { EntityService } from "@callassistant/protocol";
import { EntityKind, type MediaFormat, MediaType } from "@callassistant/protocol";
import { type RegisterModuleResponse, RegisterModuleResponseSchema } from "@callassistant/protocol";
import { PipelineService } from "@callassistant/protocol";
import { ConnectionRole, EntityState, ModuleState } from "@callassistant/protocol";
import type {
  EntityPipelineClients,
  ModuleDirectory,
} from "../../src/module_calls/module_caller.ts";
import { EventBus } from "../../src/events/event_bus.ts";
import { Logger } from "../../src/log/logger.ts";
import { createPipeline, type Pipeline } from "../../src/flows/flow_pipeline.ts";
import { Code, RpcError } from "@callassistant/rpc";
import type { CallContext } from "@callassistant/rpc";
import { FlowTable, type FlowTableOptions, formatName } from "../../packages/sdk-ts/pipeline.ts";
import type { Store } from "../../src/store/store.ts";

export const { VIDEO, AUDIO } = MediaType;

/** A plain format. */
export function fmt(mediaType: MediaType, protocol: string, codec: string) {
  return { mediaType, protocol, codec };
}

interface FakeEntity {
  id: string;
  entityType: string;
  name: string;
  configuration: JsonObject;
}

const CTX: CallContext = {
  headers: new Headers(),
  signal: new AbortController().signal,
  responseHeaders: new Headers(),
  peer: "test",
};

/** One in-memory module. */
export class FakeModule {
  state = ModuleState.READY;
  readonly entities = new Map<string, FakeEntity>();
  /** Entities the module "discovered" itself (listed, not created). */
  readonly discovered = new Map<string, FakeEntity>();
  readonly table: FlowTable;
  /** Return an error to make the call fail. */
  failWhen?: (method: string, request: Record<string, unknown>) => RpcError | undefined;
  /** Rejects a configuration with this message when it returns one. */
  rejectConfig?: (configuration: JsonObject) => string | undefined;
  /**
   * Media is pulled from this module's senders (like HLS from a converter) and its
   * receivers pull: a receiver answers no address until it is given one, a sender asked
   * without an address answers `served://<module>/<connection>`.
   */
  pulls = false;
  /** What a pulling sender answers. */
  servedAddress = (connectionId: string): string => `served://${this.name}/${connectionId}`;
  registration: RegisterModuleResponse;
  /** Where the module serves a connection (FlowTable's `address`): a receiver, by default. */
  address: NonNullable<FlowTableOptions["address"]> = (req) =>
    req.role === ConnectionRole.RECEIVER ? `fake://${this.name}/${req.connectionId}` : "";

  readonly #log: string[];

  constructor(
    readonly name: string,
    readonly capabilities: EntityCapabilityInit[],
    log: string[],
  ) {
    this.#log = log;
    this.registration = create(RegisterModuleResponseSchema, { capabilities });
    this.table = new FlowTable({
      check: (req) => {
        const id = req.role === ConnectionRole.RECEIVER ? req.targetEntityId : req.sourceEntityId;
        const e = this.entities.get(id) ?? this.discovered.get(id);
        if (!e) throw new RpcError(Code.NOT_FOUND, `no entity "${id}" on ${this.name}`);
        const cap = capabilities.find((c) => c.entityType === e.entityType)!;
        const formats = req.role === ConnectionRole.RECEIVER
          ? [...(cap.inputs ?? []), ...(cap.transforms ?? []).map((t) => t.input!)]
          : [...(cap.outputs ?? []), ...(cap.transforms ?? []).map((t) => t.output!)];
        if (!formats.some((f) => formatName(f) === formatName(req.format))) {
          throw new RpcError(
            Code.FAILED_PRECONDITION,
            `${this.name}: ${e.id} cannot handle ${formatName(req.format)}`,
          );
        }
      },
      address: (req) => this.address(req),
      latencyMs: 10,
    });
  }

  #entityHandlers() {
    return {
      createEntity: (
        req: { entityId: string; entityType: string; name: string; configuration?: JsonObject },
      ) => {
        const reason = this.rejectConfig?.(req.configuration ?? {});
        if (reason) throw new RpcError(Code.INVALID_ARGUMENT, reason);
        if (!this.entities.has(req.entityId)) {
          this.entities.set(req.entityId, {
            id: req.entityId,
            entityType: req.entityType,
            name: req.name,
            configuration: req.configuration ?? {},
          });
        }
        return {
          entity: { id: req.entityId, entityType: req.entityType, state: EntityState.READY },
        };
      },
      configureEntity: (req: { entityId: string; configuration?: JsonObject }) => {
        const e = this.entities.get(req.entityId);
        if (!e) throw new RpcError(Code.NOT_FOUND, `no entity "${req.entityId}"`);
        const reason = this.rejectConfig?.(req.configuration ?? {});
        if (reason) throw new RpcError(Code.INVALID_ARGUMENT, reason);
        e.configuration = req.configuration ?? {};
        return { entity: { id: e.id, configuration: e.configuration, state: EntityState.READY } };
      },
      getEntityStatus: (req: { entityId: string }) => {
        if (!this.entities.has(req.entityId) && !this.discovered.has(req.entityId)) {
          throw new RpcError(Code.NOT_FOUND, `no entity "${req.entityId}"`);
        }
        const active = this.table.isActive(req.entityId);
        return {
          status: {
            entityId: req.entityId,
            state: active ? EntityState.ACTIVE : EntityState.READY,
            metrics: { fake: 1 },
          },
        };
      },
      destroyEntity: (req: { entityId: string }) => {
        if (!this.entities.delete(req.entityId)) {
          throw new RpcError(Code.NOT_FOUND, `no entity "${req.entityId}"`);
        }
        this.table.dropEntity(req.entityId);
        return {};
      },
      listEntities: () => ({
        entities: [...this.entities.values(), ...this.discovered.values()].map((e) => ({
          id: e.id,
          entityType: e.entityType,
          name: e.name,
          configuration: e.configuration,
          state: EntityState.READY,
        })),
      }),
    };
  }

  /** The FlowTable's handlers, with the pull behaviour when `pulls` is set. */
  #pipelineHandlers() {
    const handlers = this.table.handlers();
    const connect = handlers.connectEntities!;
    return {
      ...handlers,
      connectEntities: (req: Parameters<typeof connect>[0], ctx: CallContext) => {
        if (!this.pulls || req.address) return connect(req, ctx);
        if (req.role === ConnectionRole.RECEIVER) return { address: "" };
        const address = this.servedAddress(req.connectionId);
        if (!address) return { address: "" };
        return connect({ ...req, address }, ctx);
      },
    };
  }

  /** Clients calling the handlers directly, logging "module Method detail". */
  clients(): EntityPipelineClients {
    const wrap = (service: DescService, handlers: Record<string, unknown>) => {
      const client: Record<string, unknown> = {};
      for (const method of service.methods) {
        client[method.localName] = async (request: Record<string, unknown>) => {
          const req = create(method.input, request) as unknown as Record<string, unknown>;
          const detail = req.role ? ` ${ConnectionRole[req.role as number]}` : "";
          const what = req.connectionId ?? req.entityId ?? req.flowId ?? "";
          this.#log.push(`${this.name} ${method.name}${detail} ${what}`.trim());
          const error = this.failWhen?.(method.name, req);
          if (error) throw error;
          const handler = handlers[method.localName] as
            | ((r: unknown, c: CallContext) => unknown)
            | undefined;
          if (!handler) throw new RpcError(Code.UNIMPLEMENTED, `${method.name} not implemented`);
          return create(method.output, (await handler(req, CTX)) as Record<string, unknown>);
        };
      }
      return client;
    };
    return {
      entity: wrap(EntityService, this.#entityHandlers()),
      pipeline: wrap(PipelineService, this.#pipelineHandlers() as Record<string, unknown>),
    } as unknown as EntityPipelineClients;
  }
}

/** A ModuleDirectory of fake modules. */
export class FakeModules implements ModuleDirectory {
  readonly modules = new Map<string, FakeModule>();
  /** Every call to every module, in order. */
  readonly log: string[] = [];
  readonly #watchers = new Set<(name: string, state: ModuleState) => void>();

  add(name: string, capabilities: EntityCapabilityInit[]): FakeModule {
    const m = new FakeModule(name, capabilities, this.log);
    this.modules.set(name, m);
    return m;
  }

  get(name: string): FakeModule {
    return this.modules.get(name)!;
  }

  /** Changes a module's state; going down drops its entities and flows (a new process). */
  setState(name: string, state: ModuleState): void {
    const m = this.get(name);
    const wasRunning = m.state === ModuleState.READY || m.state === ModuleState.DEGRADED;
    m.state = state;
    if (wasRunning && state !== ModuleState.READY && state !== ModuleState.DEGRADED) {
      m.entities.clear();
      m.table.connections.clear();
      m.table.flows.clear();
    }
    for (const w of this.#watchers) w(name, state);
  }

  names(): string[] {
    return [...this.modules.keys()].sort();
  }
  state(name: string): ModuleState | undefined {
    return this.modules.get(name)?.state;
  }
  reason(name: string): string {
    return this.modules.get(name)?.state === ModuleState.READY ? "" : "test";
  }
  registration(name: string): RegisterModuleResponse | undefined {
    return this.modules.get(name)?.registration;
  }
  clients(name: string): EntityPipelineClients | undefined {
    const m = this.modules.get(name);
    return m && (m.state === ModuleState.READY || m.state === ModuleState.DEGRADED)
      ? m.clients()
      : undefined;
  }
  watch(fn: (name: string, state: ModuleState) => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }
}

/** A camera, a converter module and a screen, like the example modules. */
export function homeSetup(): FakeModules {
  const modules = new FakeModules();
  modules.add("camera", [{
    entityType: "video_source",
    kind: EntityKind.SOURCE,
    outputs: [fmt(VIDEO, "rtsp", "h264"), fmt(AUDIO, "rtsp", "aac")],
  }]);
  modules.add("converter", [converterCapability()]);
  modules.add("screen", [{
    entityType: "cast_screen",
    kind: EntityKind.SINK,
    inputs: [fmt(VIDEO, "hls", "h264"), fmt(AUDIO, "hls", "aac")],
  }]);
  return modules;
}

/** An RTSP to HLS converter type. */
export function converterCapability(entityType = "rtsp_to_hls"): EntityCapabilityInit {
  return {
    entityType,
    kind: EntityKind.CONVERTER,
    transforms: [
      {
        input: fmt(VIDEO, "rtsp", "h264"),
        output: fmt(VIDEO, "hls", "h264"),
        cost: { cpu: 1, latencyMs: 500 },
      },
      {
        input: fmt(AUDIO, "rtsp", "aac"),
        output: fmt(AUDIO, "hls", "aac"),
        cost: { cpu: 0.5, latencyMs: 500 },
      },
    ],
  };
}

/** A quiet logger. */
export function quietLogger(): Logger {
  return new Logger({ level: "error", format: "json", sinks: [] });
}

/** A pipeline over fake modules, activated; `modules` start READY. */
export function fakePipeline(
  modules: FakeModules,
  store?: Store,
): { pipeline: Pipeline; bus: EventBus } {
  const bus = new EventBus();
  const pipeline = createPipeline({
    modules,
    bus,
    logger: quietLogger(),
    store,
    monitorIntervalMs: 0,
  });
  pipeline.flows.activate();
  // Like the registry at boot: every module reaches READY once.
  for (const name of modules.names()) {
    const state = modules.state(name)!;
    modules.setState(name, ModuleState.STARTING);
    modules.setState(name, state);
  }
  return { pipeline, bus };
}

/** Formats of a media type from a list, for assertions. */
export function names(formats: (MediaFormat | undefined)[]): string[] {
  return formats.map(formatName);
}

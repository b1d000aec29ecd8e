/**
 * Calls to a module that runs as several instances (`replicas` > 1). Modules keep their
 * entities, connections and flows in their own process, so:
 * - an entity's calls go to the instance holding it (placed when it was created or
 *   listed); `ListEntities` asks every instance and merges the answers;
 * - each side of a connection goes to the instance holding the entity of that side (the
 *   receiver's target, the sender's source), and its flow is then known to live (in part)
 *   there; `DisconnectEntities` reaches every instance holding a side; `StartFlow` sends
 *   each instance its own connections,
 *   `StopFlow` and `AdjustQuality` reach every instance of the flow, `GetFlowStatus`
 *   asks the first, `ReestablishConnection` the instances holding a side;
 * - `Configure` goes to every instance; anything else takes turns.
 * Placements on an instance that stopped serving are ignored, so the call takes a turn.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StartFlowRequestSchema } from "@callassistant/protocol";
import { ConnectionRole } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import type { ModuleClients } from "./module_clients.ts";

/** One instance as the router sees it. */
export interface Instance {
  /** 0 for the module itself, 1 and up for the others. */
  readonly index: number;
  /** Its clients while it serves (READY or DEGRADED); undefined otherwise. */
  serving(): ModuleClients | undefined;
}

/** How many placements of each kind are remembered; the oldest go first. */
const MAX_PLACEMENTS = 10_000;

type Serving = { index: number; clients: ModuleClients };
type Entity = ModuleClients["entity"];
type Pipeline = ModuleClients["pipeline"];

/** A map that forgets its oldest entries past MAX_PLACEMENTS. */
class Placements<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > MAX_PLACEMENTS) this.delete(this.keys().next().value!);
    return this;
  }
}

/** Routes the calls of one replicated module over its instances. */
export class ReplicaRouter {
  #turn = 0;
  readonly #entities = new Placements<number>();
  /** A connection id -> the instances holding a side of it (both may be on one module). */
  readonly #connections = new Placements<Set<number>>();
  readonly #flows = new Placements<Set<number>>();
  /** The clients callers use; they route every call. */
  readonly clients: ModuleClients;

  readonly #module: string;
  readonly #instances: () => Instance[];

  constructor(module: string, instances: () => Instance[]) {
    this.#module = module;
    this.#instances = instances;
    this.clients = {
      module: this.#moduleClient(),
      entity: this.#entityClient(),
      pipeline: this.#pipelineClient(),
      close() {}, // The instances' runners own their clients.
    };
  }

  /** The instances serving now, in index order; UNAVAILABLE when there is none. */
  #serving(): Serving[] {
    const serving = this.#instances().flatMap((i) => {
      const clients = i.serving();
      return clients ? [{ index: i.index, clients }] : [];
    });
    if (serving.length === 0) {
      throw new RpcError(Code.UNAVAILABLE, `no instance of module "${this.#module}" is serving`);
    }
    return serving;
  }

  /** The serving instance with `index`, if any. */
  #instance(index: number | undefined): Serving | undefined {
    return index === undefined ? undefined : this.#serving().find((s) => s.index === index);
  }

  /** The next serving instance in turn. */
  #nextInTurn(): Serving {
    const serving = this.#serving();
    return serving[this.#turn++ % serving.length];
  }

  /** The serving instances recorded under `key` in `placements`. */
  #holders(placements: Placements<Set<number>>, key: string): Serving[] {
    return [...(placements.get(key) ?? [])].flatMap((i) => this.#instance(i) ?? []);
  }

  /** The serving instances holding part of `flowId`; one in turn when none is known. */
  #flowInstances(flowId: string): Serving[] {
    const known = this.#holders(this.#flows, flowId);
    return known.length > 0 ? known : [this.#nextInTurn()];
  }

  #addTo(placements: Placements<Set<number>>, key: string, index: number): void {
    const set = placements.get(key) ?? new Set<number>();
    set.add(index);
    placements.set(key, set);
  }

  /** close() and waitForReady() of the routed clients: the instances own the channels. */
  readonly #lifecycle = {
    close() {},
    waitForReady: (_timeoutMs: number): Promise<void> => {
      this.#serving(); // Throws UNAVAILABLE when no instance serves.
      return Promise.resolve();
    },
  };

  #moduleClient(): ModuleClients["module"] {
    const first = () => this.#instance(0) ?? this.#nextInTurn();
    return {
      ...this.#lifecycle,
      registerModule: (req, o) => first().clients.module.registerModule(req, o),
      healthCheck: (req, o) => first().clients.module.healthCheck(req, o),
      shutdown: (req, o) => first().clients.module.shutdown(req, o),
      // Every instance runs with the module's configuration.
      configure: async (req, o) =>
        (await Promise.all(this.#serving().map((s) => s.clients.module.configure(req, o))))[0],
    };
  }

  #entityClient(): Entity {
    /** Calls the holder of `entityId` (or the next in turn), then records where it is. */
    const onHolder = async <R>(
      entityId: string,
      call: (c: Entity) => Promise<R>,
      after: "place" | "forget" = "place",
    ): Promise<R> => {
      const target = this.#instance(this.#entities.get(entityId)) ?? this.#nextInTurn();
      const reply = await call(target.clients.entity);
      if (after === "forget") this.#entities.delete(entityId);
      else this.#entities.set(entityId, target.index);
      return reply;
    };
    return {
      ...this.#lifecycle,
      createEntity: (req, o) => onHolder(req.entityId ?? "", (c) => c.createEntity(req, o)),
      configureEntity: (req, o) => onHolder(req.entityId ?? "", (c) => c.configureEntity(req, o)),
      getEntityStatus: (req, o) => onHolder(req.entityId ?? "", (c) => c.getEntityStatus(req, o)),
      destroyEntity: (req, o) =>
        onHolder(req.entityId ?? "", (c) => c.destroyEntity(req, o), "forget"),
      listEntities: async (req, o) => {
        const replies = await Promise.all(
          this.#serving().map(async (s) => ({
            index: s.index,
            reply: await s.clients.entity.listEntities(req, o),
          })),
        );
        const seen = new Set<string>();
        const entities = [];
        for (const { index, reply } of replies) {
          for (const e of reply.entities) {
            if (seen.has(e.id)) continue;
            seen.add(e.id);
            entities.push(e);
            this.#entities.set(e.id, index);
          }
        }
        return { ...replies[0].reply, entities };
      },
    };
  }

  #pipelineClient(): Pipeline {
    return {
      ...this.#lifecycle,
      connectEntities: async (req, o) => {
        // The side this call makes is the receiver's target or the sender's source entity.
        const side = req.role === ConnectionRole.SENDER ? req.sourceEntityId : req.targetEntityId;
        const target = this.#instance(this.#entities.get(side ?? "")) ?? this.#nextInTurn();
        const reply = await target.clients.pipeline.connectEntities(req, o);
        this.#addTo(this.#connections, req.connectionId ?? "", target.index);
        this.#addTo(this.#flows, req.flowId ?? "", target.index);
        return reply;
      },
      disconnectEntities: async (req, o) => {
        const id = req.connectionId ?? "";
        const holders = this.#holders(this.#connections, id);
        const targets = holders.length > 0 ? holders : this.#flowInstances(req.flowId ?? "");
        const replies = await Promise.all(
          targets.map((s) => s.clients.pipeline.disconnectEntities(req, o)),
        );
        this.#connections.delete(id);
        return replies[0];
      },
      startFlow: async (req, o) => {
        // Each instance starts the flow with the connections it holds.
        const byInstance = new Map<Serving, string[]>();
        for (const id of req.connectionIds ?? []) {
          const holders = this.#holders(this.#connections, id);
          for (const s of holders.length > 0 ? holders : this.#flowInstances(req.flowId ?? "")) {
            byInstance.set(s, [...(byInstance.get(s) ?? []), id]);
          }
        }
        if (byInstance.size === 0) {
          for (const s of this.#flowInstances(req.flowId ?? "")) byInstance.set(s, []);
        }
        const replies = await Promise.all(
          [...byInstance].map(([s, connectionIds]) => {
            this.#addTo(this.#flows, req.flowId ?? "", s.index);
            const own: MessageInitShape<typeof StartFlowRequestSchema> = { ...req, connectionIds };
            return s.clients.pipeline.startFlow(own, o);
          }),
        );
        return replies[0];
      },
      stopFlow: (req, o) => this.#onFlow(req.flowId ?? "", (p) => p.stopFlow(req, o)),
      adjustQuality: (req, o) => this.#onFlow(req.flowId ?? "", (p) => p.adjustQuality(req, o)),
      getFlowStatus: (req, o) =>
        this.#flowInstances(req.flowId ?? "")[0].clients.pipeline.getFlowStatus(req, o),
      reestablishConnection: async (req, o) => {
        // The instances holding a side of the connection restart it.
        const holders = this.#holders(this.#connections, req.connectionId ?? "");
        const targets = holders.length > 0 ? holders : this.#flowInstances(req.flowId ?? "");
        const replies = await Promise.all(
          targets.map((s) => s.clients.pipeline.reestablishConnection(req, o)),
        );
        return replies[0];
      },
    };
  }

  /** Calls every instance holding part of `flowId`; answers with the first reply. */
  async #onFlow<R>(flowId: string, call: (p: Pipeline) => Promise<R>): Promise<R> {
    const replies = await Promise.all(
      this.#flowInstances(flowId).map((s) => call(s.clients.pipeline)),
    );
    return replies[0];
  }
}

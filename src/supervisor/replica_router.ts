/**
 * Calls to a module that runs as several instances (`replicas` > 1). Modules keep their
 * entities and flows in their own process, so each entity and each flow stays with the
 * instance that last served it while that instance serves; other calls go round-robin
 * over the instances serving. `ListEntities` asks every instance and merges the answers;
 * `Configure` goes to every instance.
 */
import type { DescService } from "@bufbuild/protobuf";
import { EntityService } from "../gen/callassistant/v1/entity_pb.ts";
import { ModuleService } from "../gen/callassistant/v1/module_pb.ts";
import { PipelineService } from "../gen/callassistant/v1/pipeline_pb.ts";
import { Code, RpcError } from "../rpc/errors.ts";
import type { ModuleClients } from "./clients.ts";

/** One instance as the router sees it. */
export interface Instance {
  /** 0 for the module itself, 1 and up for the others. */
  readonly index: number;
  /** Its clients while it serves (READY or DEGRADED); undefined otherwise. */
  serving(): ModuleClients | undefined;
}

/** How many entity and flow placements are remembered; the oldest go first. */
const MAX_PLACEMENTS = 10_000;

// deno-lint-ignore no-explicit-any
type AnyMethod = (request: any, options?: any) => any;

/** Routes the calls of one replicated module over its instances. */
export class ReplicaRouter {
  private next = 0;
  /** "entity:<id>" or "flow:<id>" -> the instance holding it. */
  private readonly placements = new Map<string, number>();
  /** The clients callers use; they route every call. */
  readonly clients: ModuleClients;

  constructor(private readonly module: string, private readonly instances: () => Instance[]) {
    this.clients = {
      module: this.routed(ModuleService, "module"),
      entity: this.routed(EntityService, "entity"),
      pipeline: this.routed(PipelineService, "pipeline"),
      close() {}, // The instances' runners own their clients.
    } as ModuleClients;
  }

  /** The instances serving now, in index order. */
  private serving(): { index: number; clients: ModuleClients }[] {
    return this.instances().flatMap((i) => {
      const clients = i.serving();
      return clients ? [{ index: i.index, clients }] : [];
    });
  }

  /**
   * The instance holding the first of `keys` (entities and flows the call names) that is
   * placed on a serving instance, or else the next one in turn.
   */
  private pick(keys: string[]): { index: number; clients: ModuleClients } {
    const serving = this.serving();
    if (serving.length === 0) {
      throw new RpcError(Code.UNAVAILABLE, `no instance of module "${this.module}" is serving`);
    }
    for (const key of keys) {
      const placed = this.placements.get(key);
      const holder = serving.find((s) => s.index === placed);
      if (holder) return holder;
    }
    return serving[this.next++ % serving.length];
  }

  private place(key: string, index: number): void {
    this.placements.delete(key);
    this.placements.set(key, index);
    if (this.placements.size > MAX_PLACEMENTS) {
      this.placements.delete(this.placements.keys().next().value!);
    }
  }

  /** A client of `service` whose methods route each call. */
  private routed(service: DescService, kind: "module" | "entity" | "pipeline") {
    const client: Record<string, AnyMethod> = {};
    for (const method of service.methods) {
      const name = method.localName;
      client[name] = (request, options) => {
        if (name === "listEntities") return this.listEverywhere(request, options);
        if (name === "configure") return this.everywhere(kind, name, request, options);
        const named = namedIn(request);
        const target = kind === "module" ? this.primary() : this.pick(named.keys);
        const call = (target.clients[kind] as unknown as Record<string, AnyMethod>)[name];
        const result = call(request, options);
        if (kind !== "module" && result instanceof Promise) {
          result.then(() => {
            if (named.entity && name === "destroyEntity") this.placements.delete(named.entity);
            else if (named.entity) this.place(named.entity, target.index);
            // A flow follows the instance its first connection or call went to.
            if (named.flow) this.place(named.flow, target.index);
          }, () => {});
        }
        return result;
      };
    }
    return client;
  }

  /** Instance 0, for the module's own lifecycle calls. */
  private primary(): { index: number; clients: ModuleClients } {
    const primary = this.serving().find((s) => s.index === 0);
    if (!primary) {
      throw new RpcError(Code.UNAVAILABLE, `module "${this.module}" is not serving`);
    }
    return primary;
  }

  /** Calls every serving instance; answers with instance 0's (or the first) reply. */
  private async everywhere(
    kind: "module" | "entity" | "pipeline",
    name: string,
    request: unknown,
    options: unknown,
  ): Promise<unknown> {
    const serving = this.serving();
    if (serving.length === 0) this.pick([]); // Throws UNAVAILABLE.
    const replies = await Promise.all(
      serving.map((s) =>
        (s.clients[kind] as unknown as Record<string, AnyMethod>)[name](request, options)
      ),
    );
    return replies[0];
  }

  /** ListEntities on every serving instance, merged; each entity placed where it was found. */
  private async listEverywhere(request: unknown, options: unknown): Promise<unknown> {
    const serving = this.serving();
    if (serving.length === 0) this.pick([]); // Throws UNAVAILABLE.
    const replies = await Promise.all(
      serving.map(async (s) => ({
        index: s.index,
        reply: await s.clients.entity.listEntities(request as never, options as never),
      })),
    );
    const seen = new Set<string>();
    const entities = [];
    for (const { index, reply } of replies) {
      for (const e of reply.entities) {
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        entities.push(e);
        this.place(`entity:${e.id}`, index);
      }
    }
    return { ...replies[0].reply, entities };
  }
}

/**
 * The entity and the flow a request names, as placement keys ("entity:<id>",
 * "flow:<id>"), and every key to look for, in order: the entity, the entities a
 * connection joins (one of them is this module's), the flow.
 */
function namedIn(request: unknown): { entity?: string; flow?: string; keys: string[] } {
  const r = (request ?? {}) as Record<string, unknown>;
  const id = (field: string) => typeof r[field] === "string" && r[field] ? r[field] : undefined;
  const entity = id("entityId") && `entity:${id("entityId")}`;
  const flow = id("flowId") && `flow:${id("flowId")}`;
  const joined = ["sourceEntityId", "targetEntityId"].flatMap((f) =>
    id(f) ? [`entity:${id(f)}`] : []
  );
  return {
    entity,
    flow,
    keys: [...(entity ? [entity] : []), ...joined, ...(flow ? [flow] : [])],
  };
}

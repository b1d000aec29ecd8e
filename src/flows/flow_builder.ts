/**
 * Building and tearing down a flow.
 *
 * Building: create the converter entities the path needs (origin FLOW), or reuse the
 * flow's earlier ones, connect each hop with `ConnectEntities` (the receiving side first,
 * which answers with the address it accepts media on, then the sending side with that
 * address; when the receiver answered none and the sender answers the address it serves
 * on, the receiver again with it), then `StartFlow` on every module involved, downstream
 * first. A failure undoes everything made so far, in reverse.
 */
import { create } from "@bufbuild/protobuf";
import { EntityKind } from "@callassistant/protocol";
import {
  type Connection,
  ConnectionRole,
  ConnectionSchema,
  EntityOrigin,
  FlowState,
  type MediaPath,
} from "@callassistant/protocol";
import type { Logger } from "../log/logger.ts";
import { formatKey, mediaName } from "../entities/formats.ts";
import { Code, RpcError } from "@callassistant/rpc";
import type { ModuleCaller } from "../module_calls/module_caller.ts";
import type { EntityRegistry } from "../entities/entity_registry.ts";
import type { CreateEntityInput, EntityRecord } from "../entities/entity_record.ts";
import { type FlowRecord, type FlowRecords, statusWith } from "./flow_records.ts";

/** What the builder needs. */
export interface FlowBuilderOptions {
  flows: FlowRecords;
  entities: EntityRegistry;
  caller: ModuleCaller;
  logger: Logger;
  /** Told after StartFlow succeeded on modules of a flow (their media starts over). */
  onStarted?: (flow: FlowRecord, modules: string[]) => void;
}

/** What a build made so far, for the undo. */
interface Made {
  converters: string[];
  sides: { module: string; connectionId: string }[];
  started: string[];
}

/** Makes and unmakes the converters, connections and module flows of a flow. */
export class FlowBuilder {
  readonly #options: FlowBuilderOptions;

  constructor(options: FlowBuilderOptions) {
    this.#options = options;
  }

  /**
   * Creates (or reuses, from `reuse`) converters, connects every hop and starts the flow
   * on every module. On failure everything made is undone and the error rethrown;
   * converters of `reuse` the new path does not use are destroyed either way.
   */
  async establish(flow: FlowRecord, paths: MediaPath[], reuse: string[]): Promise<void> {
    const { flows, entities } = this.#options;
    const made: Made = { converters: [], sides: [], started: [] };
    const reusable = [...reuse];
    const claimed: string[] = [];
    try {
      // 1. Converter entities: one per (module, type, occurrence in its media path); the
      // video and audio paths share a converter of the same module and type.
      const byKey = new Map<string, string>();
      for (const path of paths) {
        const seen = new Map<string, number>();
        for (const hop of path.hops) {
          if (hop.kind !== EntityKind.CONVERTER || hop.entityId) continue;
          const type = `${hop.module}\u0000${hop.entityType}`;
          const n = seen.get(type) ?? 0;
          seen.set(type, n + 1);
          const key = `${type}\u0000${n}`;
          let id = byKey.get(key);
          if (!id) {
            const i = reusable.findIndex((r) => {
              const e = entities.get(r);
              return e?.module === hop.module && e.entityType === hop.entityType;
            });
            if (i >= 0) {
              id = reusable.splice(i, 1)[0];
              await this.#ensureEntity(entities.get(id)!);
              claimed.push(id);
            } else {
              const input: CreateEntityInput = {
                id: entities.uniqueId(`${flow.id}-${hop.entityType}`),
                entityType: hop.entityType,
                module: hop.module,
                name: `${hop.entityType} for flow ${flow.id}`,
                origin: EntityOrigin.FLOW,
              };
              id = (await entities.create(input)).id;
              made.converters.push(id);
            }
            byKey.set(key, id);
          }
          hop.entityId = id;
        }
      }
      flow.paths = paths;
      flow.converters = [...claimed, ...made.converters];
      flows.persist(flow);

      // 2. Connections, hop by hop: receiver first, then the sender with its address.
      const connections: Connection[] = [];
      for (const path of paths) {
        for (let i = 0; i + 1 < path.hops.length; i++) {
          const sender = path.hops[i];
          const receiver = path.hops[i + 1];
          const connection = create(ConnectionSchema, {
            id: `${flow.id}-${mediaName(path.mediaType)}-${i}`,
            flowId: flow.id,
            sourceEntityId: sender.entityId,
            targetEntityId: receiver.entityId,
            format: sender.output,
          });
          const address = await this.connect(
            connection,
            sender.module,
            receiver.module,
            (module) => made.sides.push({ module, connectionId: connection.id }),
          );
          connection.address = address;
          connections.push(connection);
        }
      }
      flow.connections = connections;

      // 3. Start, downstream first, so every receiver is ready before media arrives.
      if (flow.state === FlowState.CREATING) flows.setState(flow, FlowState.STARTING, "connected");
      await this.startModules(flow, made.started);
      flow.established = true;
    } catch (err) {
      await this.#undo(flow, made);
      flow.connections = [];
      const gone = new Set(made.converters);
      for (const p of paths) for (const h of p.hops) if (gone.has(h.entityId)) h.entityId = "";
      flow.converters = flow.converters.filter((id) => !gone.has(id));
      throw err;
    } finally {
      // Converters of an earlier path that the new one does not use.
      for (const id of reusable) await this.destroyQuietly(id);
      if (reusable.length) {
        flow.converters = flow.converters.filter((id) => !reusable.includes(id));
      }
      flows.persist(flow);
    }
  }

  /**
   * Connects one connection: the receiver first, then the sender with the address the
   * receiver accepts on; when the receiver answered none and the sender answers the
   * address it serves on, the receiver again with it. `onSide` is told of each module
   * connected (for an undo). Returns the connection's address.
   */
  async connect(
    connection: Connection,
    senderModule: string,
    receiverModule: string,
    onSide: (module: string) => void = () => {},
  ): Promise<string> {
    const { caller } = this.#options;
    const request = {
      connectionId: connection.id,
      flowId: connection.flowId,
      sourceEntityId: connection.sourceEntityId,
      targetEntityId: connection.targetEntityId,
      format: connection.format,
    };
    const receive = (address: string) =>
      caller.call(
        receiverModule,
        "ConnectEntities",
        (c, o) =>
          c.pipeline.connectEntities({ ...request, role: ConnectionRole.RECEIVER, address }, o),
      );
    const accepted = await receive("");
    onSide(receiverModule);
    const sent = await caller.call(
      senderModule,
      "ConnectEntities",
      (c, o) =>
        c.pipeline.connectEntities(
          { ...request, role: ConnectionRole.SENDER, address: accepted.address },
          o,
        ),
    );
    if (senderModule !== receiverModule) onSide(senderModule);
    if (!accepted.address && !sent.address) {
      // Neither side serves the link: no media could ever arrive, so say so now
      // rather than leave a flow ACTIVE with nothing on it.
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `connection ${connection.id}: neither the receiver "${connection.targetEntityId}" ` +
          `(${receiverModule}) nor the sender "${connection.sourceEntityId}" (${senderModule}) ` +
          `gave an address for ${formatKey(connection.format!)}`,
      );
    }
    if (accepted.address) return accepted.address;
    // A pulling link (rtsp, hls, webrtc, mjpeg): the sender serves, and the receiver is
    // told where to fetch from.
    await receive(sent.address);
    return sent.address;
  }

  /**
   * StartFlow on every module of the flow (or those of `only`), downstream first;
   * `started` collects them.
   */
  async startModules(flow: FlowRecord, started: string[], only?: string[]): Promise<void> {
    const { flows, caller } = this.#options;
    const connectionsOf = (module: string) =>
      flow.connections.filter((c) =>
        flows.moduleOfEntity(flow, c.sourceEntityId) === module ||
        flows.moduleOfEntity(flow, c.targetEntityId) === module
      ).map((c) => c.id);
    for (const module of flows.modulesOf(flow)) {
      if (only && !only.includes(module)) continue;
      const res = await caller.call(
        module,
        "StartFlow",
        (c, o) =>
          c.pipeline.startFlow(
            { flowId: flow.id, connectionIds: connectionsOf(module), quality: flow.quality },
            o,
          ),
      );
      started.push(module);
      flow.reported.set(
        module,
        statusWith(res.status, {
          flowId: flow.id,
          module,
          quality: res.status?.quality ?? flow.quality,
        }),
      );
    }
    this.#options.onStarted?.(flow, started);
  }

  /** StopFlow on every running module of the flow; the connections stay. Never throws. */
  async stopModules(flow: FlowRecord): Promise<void> {
    for (const module of this.#options.flows.modulesOf(flow)) {
      if (!this.#options.caller.isRunning(module)) continue;
      await this.#quietly(
        module,
        "StopFlow",
        (c, o) => c.pipeline.stopFlow({ flowId: flow.id }, o),
      );
    }
  }

  /** Stops the flow on every running module and tears down every connection. */
  async teardown(flow: FlowRecord): Promise<void> {
    if (flow.connections.length === 0 && !flow.established) return;
    await this.stopModules(flow);
    for (const connection of [...flow.connections].reverse()) {
      const modules = new Set(
        [connection.targetEntityId, connection.sourceEntityId].map((id) =>
          this.#options.flows.moduleOfEntity(flow, id)
        ),
      );
      for (const module of modules) {
        if (!module || !this.#options.caller.isRunning(module)) continue;
        await this.#quietly(
          module,
          "DisconnectEntities",
          (c, o) =>
            c.pipeline.disconnectEntities({ connectionId: connection.id, flowId: flow.id }, o),
        );
      }
    }
    flow.connections = [];
    flow.established = false;
  }

  /** Destroys a converter entity if it still exists; errors are logged. */
  async destroyQuietly(id: string): Promise<void> {
    const { entities, logger } = this.#options;
    if (!entities.get(id)) return;
    try {
      await entities.destroy(id, true);
    } catch (err) {
      logger.warn("cannot destroy a converter", { entity: id, error: (err as Error).message });
    }
  }

  /** Asks the module to (re)create a converter it should have; CreateEntity is idempotent. */
  async #ensureEntity(e: EntityRecord): Promise<void> {
    const res = await this.#options.caller.call(
      e.module,
      "CreateEntity",
      (c, o) =>
        c.entity.createEntity({
          entityId: e.id,
          entityType: e.entityType,
          name: e.name,
          configuration: e.configuration,
        }, o),
    );
    if (res.entity?.state) this.#options.entities.setState(e, res.entity.state, "");
  }

  /** Undoes a partial build, in reverse; errors are logged, not thrown. */
  async #undo(flow: FlowRecord, made: Made): Promise<void> {
    for (const module of [...made.started].reverse()) {
      await this.#quietly(
        module,
        "StopFlow",
        (c, o) => c.pipeline.stopFlow({ flowId: flow.id }, o),
      );
    }
    for (const side of [...made.sides].reverse()) {
      await this.#quietly(
        side.module,
        "DisconnectEntities",
        (c, o) =>
          c.pipeline.disconnectEntities({ connectionId: side.connectionId, flowId: flow.id }, o),
      );
    }
    for (const id of [...made.converters].reverse()) await this.destroyQuietly(id);
  }

  /** Calls a module for cleanup; a failure is logged, not thrown. */
  async #quietly(
    module: string,
    method: string,
    fn: Parameters<ModuleCaller["call"]>[2],
  ): Promise<void> {
    try {
      await this.#options.caller.call(module, method, fn);
    } catch (err) {
      this.#options.logger.warn("cleanup call failed", {
        module,
        method,
        error: (err as Error).message,
      });
    }
  }
}

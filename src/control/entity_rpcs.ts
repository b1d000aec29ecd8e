/**
 * The entity RPCs of ControlService: list (filtered), get (with the live status from
 * the module), create (the module chosen by capability when not named), configure and
 * destroy (refused while a flow uses the entity, unless forced).
 */
import type { ControlService } from "@callassistant/protocol";
import { EntityOrigin } from "@callassistant/protocol";
import type { FlowManager } from "../flows/flow_manager.ts";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";

/** Builds the entity handlers of ControlService. */
export function entityControl(flows: FlowManager): PartialServiceImpl<typeof ControlService> {
  const { entities } = flows;
  return {
    listEntities(req) {
      const list = entities.list({
        entityType: req.entityType,
        kind: req.kind,
        module: req.module,
        state: req.state,
      });
      return { entities: list.map((r) => entities.toProto(r)) };
    },

    async getEntity(req) {
      const record = entities.require(req.id);
      const status = await entities.liveStatus(req.id);
      return { entity: entities.toProto(record, status) };
    },

    async createEntity(req) {
      const record = await flows.createEntity({
        entityType: req.entityType,
        name: req.name,
        module: req.module,
        configuration: req.configuration,
        id: req.id,
        origin: EntityOrigin.CREATED,
      });
      return { entity: entities.toProto(record) };
    },

    async configureEntity(req) {
      entities.require(req.id);
      if (!req.configuration && !req.name) {
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          "nothing to change: give a configuration, a name, or both",
        );
      }
      const record = await flows.configureEntity(req.id, req.configuration, req.name);
      return { entity: entities.toProto(record) };
    },

    async destroyEntity(req) {
      await flows.destroyEntity(req.id, req.force);
      return {};
    },
  };
}

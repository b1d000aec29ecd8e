/**
 * The path and flow RPCs of ControlService: find a path without building it, and list,
 * get (with every module's live status), create, start, stop, adjust the quality of and
 * delete flows.
 */
import type { ControlService } from "@callassistant/protocol";
import type { FlowManager } from "../flows/flow_manager.ts";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { paginate } from "../api_conventions/pagination.ts";

/** Builds the path and flow handlers of ControlService. */
export function flowControl(flows: FlowManager): PartialServiceImpl<typeof ControlService> {
  return {
    findPath(req) {
      return flows.findPath(req.sourceEntityId, req.targetEntityId, req.targetProtocol);
    },

    listFlows(req) {
      const filter = { state: req.state, entityId: req.entityId };
      const page = paginate(flows.list(filter), req, {
        list: "flows",
        filters: filter,
        key: (f) => f.id,
      });
      return { flows: page.items.map((f) => flows.toProto(f)), nextPageToken: page.nextPageToken };
    },

    async getFlow(req) {
      const flow = flows.require(req.id);
      return { flow: flows.toProto(flow, await flows.liveStatuses(flow)) };
    },

    async createFlow(req) {
      const flow = await flows.create({
        sourceEntityId: req.sourceEntityId,
        targetEntityId: req.targetEntityId,
        quality: req.quality,
        id: req.id,
        targetProtocol: req.targetProtocol,
        mediaLimits: {
          stallTimeout: req.stallTimeout,
          firstFrameTimeout: req.firstFrameTimeout,
          maxLatency: req.maxLatency,
        },
      });
      return { flow: flows.toProto(flow) };
    },

    async startFlow(req) {
      return { flow: flows.toProto(await flows.start(req.id)) };
    },

    async stopFlow(req) {
      return { flow: flows.toProto(await flows.stop(req.id)) };
    },

    async adjustFlowQuality(req) {
      return { flow: flows.toProto(await flows.adjustQuality(req.id, req.quality)) };
    },

    async deleteFlow(req) {
      await flows.delete(req.id);
      return {};
    },
  };
}

/**
 * The EventService implementation for modules. Every call must carry the module's
 * `MODULE_TOKEN` as `authorization: Bearer <token>`; the module is taken from the token.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { EventService } from "../gen/callassistant/v1/event_pb.ts";
import type { ModuleRecord } from "../registry/module_record.ts";
import type { ModuleRegistry } from "../registry/modules.ts";
import type { CallContext, PartialServiceImpl } from "../rpc/handlers.ts";
import { Code, RpcError } from "../rpc/errors.ts";
import type { EventBus } from "./bus.ts";

/** The module a call comes from, by its bearer token. */
export function authenticate(registry: ModuleRegistry, ctx: CallContext): ModuleRecord {
  const header = ctx.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new RpcError(
      Code.UNAUTHENTICATED,
      "missing module token: send `authorization: Bearer $MODULE_TOKEN` metadata",
    );
  }
  const record = registry.byToken(match[1]);
  if (!record) {
    throw new RpcError(
      Code.PERMISSION_DENIED,
      "unknown module token (it belongs to no running module, or to an earlier start)",
    );
  }
  return record;
}

/** Builds the EventService handlers. */
export function eventService(
  registry: ModuleRegistry,
  bus: EventBus,
): PartialServiceImpl<typeof EventService> {
  return {
    reportEvent(req, ctx) {
      const record = authenticate(registry, ctx);
      if (!req.type) throw new RpcError(Code.INVALID_ARGUMENT, "event type is required");
      const event = bus.publish({
        type: req.type,
        severity: req.severity,
        module: record.name,
        entityId: req.entityId,
        flowId: req.flowId,
        message: req.message,
        data: req.data as JsonObject | undefined,
        source: "module",
      });
      return { eventId: event.id };
    },
  };
}

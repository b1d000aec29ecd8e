/** Which module an entity of a given type is created in. */
import type { EntityCapability } from "@callassistant/protocol";
import { Code, RpcError } from "@callassistant/rpc";
import { badRequest } from "../api_conventions/error_details.ts";
import type { ModuleCaller } from "../module_calls/module_caller.ts";
import type { CapabilityIndex } from "./capabilities.ts";

/**
 * The module to create an `entityType` in: `module` when given (it must declare the
 * type), else the only module declaring it. INVALID_ARGUMENT for an unknown type
 * (listing the known ones) or an ambiguous choice (listing the candidates).
 */
export function chooseEntityModule(
  caps: CapabilityIndex,
  caller: ModuleCaller,
  entityType: string,
  module?: string,
): { module: string; capability: EntityCapability } {
  if (!entityType) {
    throw badRequest(
      [{ field: "entityType", description: "is required" }],
      "entity_type is required",
    );
  }
  const known = caps.knownTypes();
  const knownList = known.length
    ? known.map((t) => `${t.entityType} (${t.modules.join(", ")})`).join(", ")
    : "none (no module has registered any)";
  if (module) {
    if (!caller.modules.state(module)) {
      throw new RpcError(Code.NOT_FOUND, `module "${module}" not found`);
    }
    const capability = caps.find(module, entityType);
    if (!capability) {
      const own = caps.of(module).map((c) => c.entityType);
      const why = `module "${module}" does not provide entity type "${entityType}"; it ` +
        `provides: ${own.length ? own.join(", ") : "none (or it has not registered yet)"}`;
      throw badRequest([{ field: "module", description: why }], why);
    }
    return { module, capability };
  }
  const candidates = caps.providers(entityType);
  if (candidates.length === 0) {
    const why = `unknown entity type "${entityType}"; known types: ${knownList}`;
    throw badRequest([{ field: "entityType", description: why }], why);
  }
  if (candidates.length > 1) {
    const why = `entity type "${entityType}" is provided by several modules: ${
      candidates.join(", ")
    }; name one in "module"`;
    throw badRequest([{ field: "module", description: why }], why);
  }
  return { module: candidates[0], capability: caps.find(candidates[0], entityType)! };
}

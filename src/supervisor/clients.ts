/**
 * The gRPC clients the orchestrator uses to talk to one module. Every call has a deadline
 * (30 s unless the caller gives one, SPEC 8), carries a W3C `traceparent` (the caller's
 * trace, or a new one), and is measured for `callassistant_module_rpc_duration_seconds`.
 */
import { type Client, type ClientHooks, createClient } from "../rpc/grpc_client.ts";
import type { Code } from "../rpc/errors.ts";
import { ModuleService } from "../gen/callassistant/v1/module_pb.ts";
import { EntityService } from "../gen/callassistant/v1/entity_pb.ts";
import { PipelineService } from "../gen/callassistant/v1/pipeline_pb.ts";

/** Default deadline of an orchestrator-to-module call (SPEC 8). */
export const MODULE_CALL_TIMEOUT_MS = 30_000;

/** Clients of the three services every module implements, on one channel each. */
export interface ModuleClients {
  module: Client<typeof ModuleService>;
  entity: Client<typeof EntityService>;
  pipeline: Client<typeof PipelineService>;
  close(): void;
}

/** Observes module calls; set once by the orchestrator. */
export interface ModuleCallObserver {
  /** Told when a call to `module` ends. */
  onCallEnd(module: string, method: string, code: Code, seconds: number): void;
}

let observer: ModuleCallObserver | undefined;

/** Sets (or clears) the observer of every module call made from now on. */
export function setModuleCallObserver(o: ModuleCallObserver | undefined): void {
  observer = o;
}

/** Creates the clients for `module` serving at `address` (host:port). */
export function createModuleClients(address: string, module: string): ModuleClients {
  const options = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
  };
  const hooks: ClientHooks = {
    defaultTimeoutMs: MODULE_CALL_TIMEOUT_MS,
    startTraces: true,
    onCallEnd(method, code, seconds) {
      observer?.onCallEnd(module, method, code, seconds);
    },
  };
  const module_ = createClient(ModuleService, address, undefined, options, hooks);
  const entity = createClient(EntityService, address, undefined, options, hooks);
  const pipeline = createClient(PipelineService, address, undefined, options, hooks);
  return {
    module: module_,
    entity,
    pipeline,
    close() {
      module_.close();
      entity.close();
      pipeline.close();
    },
  };
}

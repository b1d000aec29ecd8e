/** The gRPC clients the orchestrator uses to talk to one module. */
import { type Client, createClient } from "../rpc/grpc_client.ts";
import { ModuleService } from "../gen/callassistant/v1/module_pb.ts";
import { EntityService } from "../gen/callassistant/v1/entity_pb.ts";
import { PipelineService } from "../gen/callassistant/v1/pipeline_pb.ts";

/** Clients of the three services every module implements, on one channel each. */
export interface ModuleClients {
  module: Client<typeof ModuleService>;
  entity: Client<typeof EntityService>;
  pipeline: Client<typeof PipelineService>;
  close(): void;
}

/** Creates the clients for a module serving at `address` (host:port). */
export function createModuleClients(address: string): ModuleClients {
  const options = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
  };
  const module = createClient(ModuleService, address, undefined, options);
  const entity = createClient(EntityService, address, undefined, options);
  const pipeline = createClient(PipelineService, address, undefined, options);
  return {
    module,
    entity,
    pipeline,
    close() {
      module.close();
      entity.close();
      pipeline.close();
    },
  };
}

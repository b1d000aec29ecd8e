/**
 * The gRPC clients the orchestrator uses to talk to one module. Every call has a deadline
 * (30 s unless the caller gives one), carries a W3C `traceparent` (the caller's
 * trace, or a new one), and is measured for `callassistant_module_rpc_duration_seconds`.
 * Entity and pipeline calls go through the module's circuit breaker, and their idempotent
 * reads are retried; ModuleService calls (registration, health, configuration, shutdown)
 * do not, since the supervisor itself decides what their failures mean.
 */
import { type Client, type ClientOptions, createClient } from "@callassistant/rpc";
import type { Code } from "@callassistant/rpc";
import { ModuleService } from "@callassistant/protocol";
import { EntityService } from "@callassistant/protocol";
import { PipelineService } from "@callassistant/protocol";
import { CircuitBreaker, type CircuitState, guarded } from "./circuit_breaker.ts";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { ModuleTlsFiles } from "../manifest/tls.ts";

/** Default deadline of an orchestrator-to-module call, for every caller. */
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

/** Idempotent reads, retried on UNAVAILABLE. */
const READS = ["getEntityStatus", "listEntities", "getFlowStatus"];

/**
 * Creates the clients for `module` serving at `address` (host:port); `onCircuit` is told
 * when its circuit breaker opens, half-opens or closes. With `tls`, over TLS (mutual TLS
 * with a client certificate), checking the module's certificate for `tls.serverName`.
 */
export function createModuleClients(
  address: string,
  module: string,
  onCircuit?: (state: CircuitState, reason: string) => void,
  tls?: ModuleTlsFiles,
): ModuleClients {
  const options: grpc.ChannelOptions = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
  };
  let credentials: grpc.ChannelCredentials | undefined;
  if (tls) {
    const buffer = (pem?: string) => pem === undefined ? undefined : Buffer.from(pem);
    credentials = grpc.credentials.createSsl(
      buffer(tls.ca) ?? null,
      buffer(tls.key) ?? null,
      buffer(tls.cert) ?? null,
    );
    // Deno's TLS refuses an IP address as the name to verify: always name it.
    options["grpc.ssl_target_name_override"] = tls.serverName;
  }
  const clientOptions: ClientOptions = {
    credentials,
    channel: options,
    defaultTimeoutMs: MODULE_CALL_TIMEOUT_MS,
    startTraces: true,
    onCallEnd(method, code, seconds) {
      observer?.onCallEnd(module, method, code, seconds);
    },
  };
  const module_ = createClient(ModuleService, address, clientOptions);
  const breaker = new CircuitBreaker(module, { onChange: onCircuit });
  const entity = guarded(
    createClient(EntityService, address, clientOptions),
    breaker,
    READS,
  );
  const pipeline = guarded(
    createClient(PipelineService, address, clientOptions),
    breaker,
    READS,
  );
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

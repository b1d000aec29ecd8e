/**
 * The environment the orchestrator starts a module with (SPEC 3.2), read and checked.
 */

/** The module's view of its process environment. */
export interface ModuleEnv {
  /** The port to serve gRPC on, on 127.0.0.1 (`GRPC_PORT`). */
  readonly grpcPort: number;
  /** The module's id for this orchestrator (`MODULE_ID`); empty when run alone. */
  readonly moduleId: string;
  /** The manifest name (`MODULE_NAME`); empty when run alone. */
  readonly moduleName: string;
  /** host:port of the orchestrator's EventService (`ORCHESTRATOR_ADDRESS`); empty when unset. */
  readonly orchestratorAddress: string;
  /** The per-start secret for the EventService (`MODULE_TOKEN`); empty when unset. */
  readonly token: string;
  /** A persistent directory of the module's own (`MODULE_DATA_DIR`); empty when unset. */
  readonly dataDir: string;
  /** True when the orchestrator runs in dev mode (`CALL_ASSISTANT_DEV=1`). */
  readonly dev: boolean;
}

/** A missing or malformed environment variable. */
export class ModuleEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModuleEnvError";
  }
}

/** Where variables are read from: `Deno.env` by default, a plain object in tests. */
export type EnvSource = Record<string, string | undefined> | {
  get(key: string): string | undefined;
};

function getter(source: EnvSource): (key: string) => string {
  if (typeof source.get === "function") {
    const env = source as { get(key: string): string | undefined };
    return (key) => env.get(key)?.trim() ?? "";
  }
  const record = source as Record<string, string | undefined>;
  return (key) => record[key]?.trim() ?? "";
}

/**
 * Reads the module environment. Throws a ModuleEnvError naming the variable when
 * `GRPC_PORT` is missing or not a port number (1-65535).
 */
export function readModuleEnv(source: EnvSource = Deno.env): ModuleEnv {
  const get = getter(source);
  const rawPort = get("GRPC_PORT");
  if (rawPort === "") {
    throw new ModuleEnvError(
      "GRPC_PORT is not set: this module is started by the Call Assistant orchestrator, " +
        "which sets GRPC_PORT to the port it must serve gRPC on (to run it alone, set " +
        "GRPC_PORT=50100 for example)",
    );
  }
  const port = /^[0-9]+$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ModuleEnvError(
      `GRPC_PORT=${
        JSON.stringify(rawPort)
      } is not a port number (expected an integer from 1 to 65535)`,
    );
  }
  return {
    grpcPort: port,
    moduleId: get("MODULE_ID"),
    moduleName: get("MODULE_NAME"),
    orchestratorAddress: get("ORCHESTRATOR_ADDRESS"),
    token: get("MODULE_TOKEN"),
    dataDir: get("MODULE_DATA_DIR"),
    dev: get("CALL_ASSISTANT_DEV") === "1",
  };
}

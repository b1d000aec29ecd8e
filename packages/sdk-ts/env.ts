/**
 * The environment the orchestrator starts a module with (README "Writing a module"), read and checked.
 */

/** The module's view of its process environment. */
export interface ModuleEnv {
  /** The port to serve gRPC on (`GRPC_PORT`), on `grpcHost`. */
  readonly grpcPort: number;
  /** The module's id for this orchestrator (`MODULE_ID`); empty when run alone. */
  readonly moduleId: string;
  /** The manifest name (`MODULE_NAME`); empty when run alone. */
  readonly moduleName: string;
  /** host:port of the orchestrator's EventService (`ORCHESTRATOR_ADDRESS`); empty when unset. */
  readonly orchestratorAddress: string;
  /**
   * The per-start secret for the EventService. `serveModule` takes it from the first line
   * of standard input when `tokenFromStdin`; here it is the environment's deprecated
   * `MODULE_TOKEN` (empty when unset).
   */
  readonly token: string;
  /** True when the orchestrator hands the token over on standard input (`MODULE_TOKEN_STDIN=1`). */
  readonly tokenFromStdin: boolean;
  /** A persistent directory of the module's own (`MODULE_DATA_DIR`); empty when unset. */
  readonly dataDir: string;
  /** True when the orchestrator runs in dev mode (`CALL_ASSISTANT_DEV=1`). */
  readonly dev: boolean;
  /** Where to serve (`GRPC_HOST`, default 127.0.0.1): another address for a remote module. */
  readonly grpcHost: string;
  /**
   * Certificate chain and key files (PEM) to serve TLS with (`GRPC_TLS_CERT`,
   * `GRPC_TLS_KEY`), for a remote module reached over TLS; empty for plaintext.
   */
  readonly tlsCert: string;
  readonly tlsKey: string;
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
/** GRPC_TLS_CERT and GRPC_TLS_KEY, checked to come together. */
function tlsFiles(get: (name: string) => string): { tlsCert: string; tlsKey: string } {
  const tlsCert = get("GRPC_TLS_CERT");
  const tlsKey = get("GRPC_TLS_KEY");
  if ((tlsCert === "") !== (tlsKey === "")) {
    throw new ModuleEnvError("GRPC_TLS_CERT and GRPC_TLS_KEY go together: set both or neither");
  }
  if (get("GRPC_TLS_CLIENT_CA")) {
    throw new ModuleEnvError(
      "GRPC_TLS_CLIENT_CA is not supported by the TypeScript SDK: Deno's TLS listener cannot " +
        "ask for client certificates (serve plain TLS, or put a proxy that can in front)",
    );
  }
  return { tlsCert, tlsKey };
}

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
    tokenFromStdin: get("MODULE_TOKEN_STDIN") === "1",
    dataDir: get("MODULE_DATA_DIR"),
    dev: get("CALL_ASSISTANT_DEV") === "1",
    grpcHost: get("GRPC_HOST") || "127.0.0.1",
    ...tlsFiles(get),
  };
}

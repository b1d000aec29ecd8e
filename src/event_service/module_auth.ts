/**
 * Who is calling the EventService: every call carries the module's token as
 * `authorization: Bearer <token>` (handed over on the module's standard input; the
 * environment's deprecated `MODULE_TOKEN` is accepted with a warning), and the module is
 * taken from the token. `verifyCaller` can further require that the call comes from one
 * of the module's own processes.
 */
import type { CallContext } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";
import type { Logger } from "../log/logger.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";

/** The bearer token of a call's `authorization` metadata. */
function bearerOf(ctx: CallContext): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(ctx.headers.get("authorization") ?? "")?.[1];
}

/** The module a call comes from, by its bearer token. */
function authenticate(registry: ModuleRegistry, ctx: CallContext): ModuleRecord {
  const token = bearerOf(ctx);
  if (!token) {
    throw new RpcError(
      Code.UNAUTHENTICATED,
      "missing module token: send `authorization: Bearer <token>` metadata, the token " +
        "being the first line of standard input (MODULE_TOKEN=<token>)",
    );
  }
  const record = registry.byToken(token);
  if (!record) {
    throw new RpcError(
      Code.PERMISSION_DENIED,
      "unknown module token (it belongs to no running module, or to an earlier start)",
    );
  }
  return record;
}

/** Options of {@link moduleAuthenticator}. */
export interface ModuleAuthOptions {
  registry: ModuleRegistry;
  /** Where the deprecated-token warning goes; none by default. */
  logger?: Logger;
  /**
   * Checks that a call presenting `record`'s token comes from one of its processes;
   * throws (PERMISSION_DENIED) when not. None by default (the token alone decides).
   */
  verifyCaller?: (record: ModuleRecord, ctx: CallContext) => void;
}

/**
 * A function that returns the calling module (its token, from one of its own processes)
 * or throws; it warns once per process that still uses the environment's token.
 */
export function moduleAuthenticator(
  options: ModuleAuthOptions,
): (ctx: CallContext) => ModuleRecord {
  const { registry, logger, verifyCaller } = options;
  /** Legacy (environment) tokens already warned about, by the process's token. */
  const warnedLegacy = new Set<string>();
  return (ctx) => {
    const record = authenticate(registry, ctx);
    verifyCaller?.(record, ctx);
    if (record.legacyToken && bearerOf(ctx) === record.legacyToken) {
      if (!warnedLegacy.has(record.token)) {
        warnedLegacy.add(record.token);
        if (warnedLegacy.size > 10_000) warnedLegacy.clear();
        logger?.warn(
          "module authenticated with MODULE_TOKEN from its environment: deprecated, read " +
            "the token from the first line of standard input instead (MODULE_TOKEN_STDIN=1); " +
            "the environment variable goes away in the next release",
          { module: record.name, pid: record.pid },
        );
      }
    }
    return record;
  };
}

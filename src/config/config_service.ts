/**
 * The configuration service: each module's configuration stored durably with revisions,
 * validated against the schema the module declared, sent to the module with `Configure`,
 * with secrets never returned in clear. Its logic does not depend on being in-process.
 */
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type {
  ConfigService,
  SetModuleConfigRequest,
  SetModuleConfigResponseSchema,
} from "@callassistant/protocol";
import { Severity } from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { Logger } from "../log/logger.ts";
import type { ModuleRecord } from "../modules/module_record.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import { Code, RpcError, toRpcError } from "@callassistant/rpc";
import type { PartialServiceImpl } from "@callassistant/rpc";
import type { Revision, RevisionLog, Store } from "../store/store.ts";
import { RevisionConflictError } from "../store/store.ts";
import type { ModuleClients } from "../module_calls/module_clients.ts";
import { keepMaskedSecrets, maskSecrets, secretPaths } from "./secrets.ts";
import { configViolations } from "./schema_check.ts";
import { badRequest, describeViolations } from "../api_conventions/error_details.ts";
import { paginate } from "../api_conventions/pagination.ts";

/** Revisions kept per module. */
const HISTORY_LIMIT = 50;

/** What the configuration service needs. */
export interface ConfigDeps {
  store: Store;
  registry: ModuleRegistry;
  bus: EventBus;
  logger: Logger;
  /** The clients of a running module, undefined when it does not run. */
  clientsOf(name: string): ModuleClients | undefined;
  /** Asks the supervisor to check a module's health now (after a Configure). */
  refreshHealth(name: string): void;
}

/**
 * Module configurations. Writes of one module (a PUT, or the stored configuration sent at
 * registration) run one at a time, each from its revision check to its store: a writer
 * that lost the race is refused before its configuration reaches the module, so the
 * module always runs the stored current revision.
 */
export class ModuleConfigs {
  readonly #log: RevisionLog<JsonObject>;
  /** The last write queued per module (see {@link serialized}). */
  readonly #writes = new Map<string, Promise<unknown>>();

  readonly #deps: ConfigDeps;

  constructor(deps: ConfigDeps) {
    this.#deps = deps;
    this.#log = deps.store.revisions<JsonObject>("module-config");
  }

  #record(name: string): ModuleRecord {
    const r = this.#deps.registry.get(name);
    if (!r) throw new RpcError(Code.NOT_FOUND, `module "${name}" not found`);
    return r;
  }

  #secrets(record: ModuleRecord): string[] {
    return secretPaths(record.registration?.configSchema);
  }

  /** Runs `fn` once every earlier write of module `name` has finished. */
  #serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#writes.get(name) ?? Promise.resolve()).then(fn);
    const done = run.catch(() => {});
    this.#writes.set(name, done);
    done.then(() => {
      if (this.#writes.get(name) === done) this.#writes.delete(name);
    });
    return run;
  }

  #toProto(rev: Revision<JsonObject>, secrets: string[]) {
    return {
      module: rev.key,
      revision: BigInt(rev.revision),
      config: maskSecrets(rev.value, secrets),
      updatedAt: timestampFromDate(rev.createdAt),
      updatedBy: rev.author,
    };
  }

  /**
   * Sends the stored configuration to a module that has just registered. A module that
   * rejects it keeps running (it reports WAITING_FOR_CONFIG); the rejection is an event.
   */
  apply(record: ModuleRecord, clients: ModuleClients): Promise<void> {
    return this.#serialized(record.name, () => this.#applyNow(record, clients));
  }

  async #applyNow(record: ModuleRecord, clients: ModuleClients): Promise<void> {
    const current = this.#log.current(record.name);
    if (!current) return;
    try {
      await clients.module.configure(
        { config: current.value, revision: BigInt(current.revision) },
        { timeoutMs: 10_000 },
      );
    } catch (err) {
      const message = toRpcError(err).message;
      this.#deps.logger.warn("module rejected its stored configuration", {
        module: record.name,
        revision: current.revision,
        error: message,
      });
      this.#deps.bus.publish({
        type: "config.rejected",
        severity: Severity.WARNING,
        module: record.name,
        message: `${record.name} rejected configuration revision ${current.revision}: ${message}`,
        data: { revision: current.revision },
      });
    }
  }

  /** The ConfigService handlers. */
  handlers(): PartialServiceImpl<typeof ConfigService> {
    return {
      getModuleConfig: (req) => {
        const record = this.#record(req.name);
        const current = this.#log.current(req.name);
        return {
          // Revision 0 before the first write: the same shape as after it.
          current: current
            ? this.#toProto(current, this.#secrets(record))
            : { module: req.name, revision: 0n, config: {} },
          schema: record.registration?.configSchema,
        };
      },

      listConfigRevisions: (req) => {
        const secrets = this.#secrets(this.#record(req.name));
        const page = paginate(this.#log.history(req.name), req, {
          list: `revisions of ${req.name}`,
          filters: [req.name],
          key: (r) => r.revision,
          descending: true,
        });
        return {
          revisions: page.items.map((r) => this.#toProto(r, secrets)),
          nextPageToken: page.nextPageToken,
        };
      },

      setModuleConfig: (req) => this.#serialized(req.name, () => this.#set(req)),
    };
  }

  /** One configuration write: revision check, validation, Configure, then the store. */
  async #set(
    req: SetModuleConfigRequest,
  ): Promise<MessageInitShape<typeof SetModuleConfigResponseSchema>> {
    const record = this.#record(req.name);
    const schema = record.registration?.configSchema;
    if (!schema || Object.keys(schema).length === 0) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        record.registration
          ? `module "${req.name}" declares no configuration`
          : `module "${req.name}" has not registered yet, so its configuration schema is unknown`,
      );
    }
    const current = this.#log.current(req.name);
    const currentRevision = current?.revision ?? 0;
    if (Number(req.expectedRevision) !== currentRevision) {
      throw new RpcError(
        Code.ABORTED,
        `configuration of "${req.name}" is at revision ${currentRevision}, not ` +
          `${req.expectedRevision}: read it again and retry with expectedRevision ${currentRevision}`,
      );
    }
    const secrets = secretPaths(schema);
    const config = keepMaskedSecrets(req.config ?? {}, current?.value, secrets);
    const problems = await configViolations(schema, config);
    if (problems.length > 0) {
      throw badRequest(
        problems.map((p) => ({ ...p, field: p.field ? `config.${p.field}` : "config" })),
        `invalid configuration for "${req.name}": ${describeViolations(problems)}`,
      );
    }
    const clients = this.#deps.clientsOf(req.name);
    if (clients) {
      try {
        await clients.module.configure(
          { config, revision: BigInt(currentRevision + 1) },
          { timeoutMs: 10_000 },
        );
      } catch (err) {
        const e = toRpcError(err);
        throw new RpcError(
          e.code === Code.INVALID_ARGUMENT ? Code.INVALID_ARGUMENT : Code.UNAVAILABLE,
          `module "${req.name}" rejected the configuration: ${e.message}`,
        );
      }
    }
    let rev: Revision<JsonObject>;
    try {
      rev = this.#log.append(req.name, config, {
        expectedRevision: currentRevision,
        author: req.updatedBy || "api",
      });
    } catch (err) {
      // Not stored (e.g. the disk is full): the module goes back to the stored revision.
      if (clients && current) await this.#applyNow(record, clients);
      if (err instanceof RevisionConflictError) throw new RpcError(Code.ABORTED, err.message);
      throw err;
    }
    this.#log.prune(req.name, HISTORY_LIMIT);
    this.#deps.bus.publish({
      type: "config.changed",
      module: req.name,
      message: `${req.name}: configuration revision ${rev.revision} by ${rev.author}`,
      data: { revision: rev.revision, updatedBy: rev.author },
    });
    if (clients) this.#deps.refreshHealth(req.name);
    return { current: this.#toProto(rev, secrets) };
  }
}

/**
 * The event RPCs of ControlService: `WatchEvents` (filters and a resume cursor) and
 * `SendModuleCommand` (a command down a module's EventService stream).
 *
 * Resume cursor: the `Last-Event-ID` header (sent by an SSE client when it reconnects)
 * wins over the `after_id` field, because a reconnecting EventSource repeats the URL it
 * was opened with (and so its `after_id`) while the header carries the newest id it got.
 */
import type { ControlService } from "@callassistant/protocol";
import { type Event, Severity } from "@callassistant/protocol";
import type { EventBus } from "../events/event_bus.ts";
import type { EventServiceHandle } from "../event_service/event_service.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";

/** What the event RPCs read and drive. */
export interface EventControlDeps {
  bus: EventBus;
  /** For `SendModuleCommand`; without it the RPC answers UNIMPLEMENTED. */
  events?: EventServiceHandle;
  /** To tell an unknown module (NOT_FOUND) from one without a stream. */
  registry?: ModuleRegistry;
}

const MAX_FILTERS = 100;
const MAX_COMMAND_TIMEOUT_MS = 120_000;

/** A filter for events: modules, types ("x.*" prefixes) and minimum severity. */
export function eventFilter(
  modules: readonly string[],
  types: readonly string[],
  minSeverity: Severity,
): ((event: Event) => boolean) | undefined {
  if (modules.length > MAX_FILTERS || types.length > MAX_FILTERS) {
    throw new RpcError(Code.INVALID_ARGUMENT, `at most ${MAX_FILTERS} modules and types`);
  }
  if (!Object.values(Severity).includes(minSeverity)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `unknown severity ${minSeverity}`);
  }
  const moduleSet = new Set(modules);
  const exact = new Set(types.filter((t) => !t.endsWith("*")));
  const prefixes = types.filter((t) => t.endsWith("*")).map((t) => t.slice(0, -1));
  if (moduleSet.size === 0 && types.length === 0 && minSeverity === Severity.UNSPECIFIED) {
    return undefined;
  }
  return (e) => {
    if (moduleSet.size > 0 && !moduleSet.has(e.module)) return false;
    if (types.length > 0 && !exact.has(e.type) && !prefixes.some((p) => e.type.startsWith(p))) {
      return false;
    }
    const severity = e.severity === Severity.UNSPECIFIED ? Severity.INFO : e.severity;
    return severity >= minSeverity;
  };
}

/** The resume cursor of a call: `Last-Event-ID` if sent, else `after_id` (unset: none). */
export function resumeCursor(afterId: bigint | undefined, headers: Headers): bigint | undefined {
  const header = headers.get("last-event-id")?.trim();
  if (!header) return afterId;
  if (!/^[0-9]{1,20}$/.test(header)) {
    throw new RpcError(
      Code.INVALID_ARGUMENT,
      `Last-Event-ID "${header.slice(0, 40)}" is not an event id (a decimal number)`,
    );
  }
  return BigInt(header);
}

/** Builds the event handlers of ControlService. */
export function eventControl(deps: EventControlDeps): PartialServiceImpl<typeof ControlService> {
  const { bus } = deps;
  return {
    async *watchEvents(req, ctx) {
      const filter = eventFilter(req.modules, req.types, req.minSeverity);
      const afterId = resumeCursor(req.afterId, ctx.headers);
      for await (const item of bus.watch({ afterId, filter, signal: ctx.signal })) {
        if (item.event) yield { item: { case: "event", value: item.event } };
        else yield { item: { case: "gap", value: item.gap } };
      }
    },

    async sendModuleCommand(req) {
      if (!deps.events) {
        throw new RpcError(Code.UNIMPLEMENTED, "module commands are not available");
      }
      if (deps.registry && !deps.registry.get(req.name)) {
        throw new RpcError(Code.NOT_FOUND, `module "${req.name}" not found`);
      }
      if (req.command.case === undefined) {
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          "no command: set one of setLogLevel, drain, reload",
        );
      }
      if (req.command.case === "setLogLevel") {
        const level = req.command.value.level;
        if (!["debug", "info", "warn", "error"].includes(level)) {
          throw new RpcError(
            Code.INVALID_ARGUMENT,
            `setLogLevel.level: expected one of debug, info, warn, error, got "${level}"`,
          );
        }
      }
      let timeoutMs: number | undefined;
      if (req.timeout) {
        timeoutMs = Number(req.timeout.seconds) * 1000 + Math.floor(req.timeout.nanos / 1e6);
        if (!(timeoutMs > 0) || timeoutMs > MAX_COMMAND_TIMEOUT_MS) {
          throw new RpcError(Code.INVALID_ARGUMENT, "timeout: must be from 1 ms to 120 s");
        }
      }
      const result = await deps.events.sendCommand(
        req.name,
        { command: req.command },
        timeoutMs,
      );
      return { result };
    },
  };
}

/**
 * The module and system RPCs of ControlService, shared by the gRPC server and the HTTP
 * gateway. Other areas (entities, flows, events) add their own handlers; the orchestrator
 * merges them, and RPCs nobody implements answer UNIMPLEMENTED.
 */
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ControlService } from "@callassistant/protocol";
import { ModuleState } from "@callassistant/protocol";
import { logEntryOf } from "../log/module_logs.ts";
import type { ModuleRegistry } from "../modules/module_registry.ts";
import type { PartialServiceImpl } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";
import type { Supervisor } from "../supervisor/supervisor.ts";

/** What the control service reads and drives. */
export interface ControlDeps {
  registry: ModuleRegistry;
  supervisor: Supervisor;
  version: string;
  startedAt: Date;
  /** The bound listeners, host:port. */
  addresses: { grpc: string; http: string };
  modulesDir: string;
  dataDir: string;
  /** Entity and flow counts for the system status (0 until those areas are wired). */
  counts?: { entities(): number; flows(): number };
}

const SETTLED = new Set([ModuleState.READY, ModuleState.DEGRADED, ModuleState.STOPPED]);

/** True when every module is READY or DEGRADED, or was stopped by hand. */
export function systemReady(registry: ModuleRegistry): boolean {
  return registry.list().every((r) => SETTLED.has(r.state));
}

/** Builds the module and system handlers of ControlService. */
export function moduleControl(deps: ControlDeps): PartialServiceImpl<typeof ControlService> {
  const { registry, supervisor } = deps;
  const record = (name: string) => {
    const r = registry.get(name);
    if (!r) throw new RpcError(Code.NOT_FOUND, `module "${name}" not found`);
    return r;
  };
  const moduleReply = (name: string) => ({ module: record(name).toProto() });

  return {
    listModules(req) {
      const modules = registry.list()
        .filter((r) => req.state === ModuleState.UNSPECIFIED || r.state === req.state)
        .map((r) => r.toProto());
      return { modules };
    },

    getModule(req) {
      return moduleReply(req.name);
    },

    async startModule(req) {
      record(req.name);
      await supervisor.start(req.name);
      return moduleReply(req.name);
    },

    async stopModule(req) {
      record(req.name);
      const ms = req.timeout
        ? Number(req.timeout.seconds) * 1000 + req.timeout.nanos / 1e6
        : undefined;
      await supervisor.stop(req.name, ms);
      return moduleReply(req.name);
    },

    async restartModule(req) {
      record(req.name);
      await supervisor.restart(req.name);
      return moduleReply(req.name);
    },

    async *getModuleLogs(req, ctx) {
      const log = record(req.name).log;
      for await (const line of log.read(req.tail || 100, req.follow, ctx.signal)) {
        yield { entry: logEntryOf(line) };
      }
    },

    getSystemStatus() {
      const modules = registry.list();
      const counts = new Map<ModuleState, number>();
      for (const r of modules) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      return {
        version: deps.version,
        startedAt: timestampFromDate(deps.startedAt),
        uptime: durationFromMs(Date.now() - deps.startedAt.getTime()),
        grpcAddress: deps.addresses.grpc,
        httpAddress: deps.addresses.http,
        modulesDir: deps.modulesDir,
        dataDir: deps.dataDir,
        moduleCount: modules.length,
        modulesByState: [...counts].map(([state, count]) => ({ state, count })),
        entityCount: deps.counts?.entities() ?? 0,
        flowCount: deps.counts?.flows() ?? 0,
        ready: systemReady(registry),
        runtime: `deno ${Deno.version.deno}`,
      };
    },
  };
}

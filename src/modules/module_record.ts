/**
 * What the orchestrator knows about one module: its manifest, state, process, health,
 * registration and history, and its proto form for clients.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { RegisterModuleResponse } from "@callassistant/protocol";
import {
  HealthState,
  type Module,
  type ModuleResources,
  type ModuleRunSchema,
  ModuleSchema,
  ModuleState,
} from "@callassistant/protocol";
import { ModuleLog } from "../log/module_logs.ts";
import type { Manifest } from "../manifest/manifest.ts";

/** One finished or running process start. */
export type ModuleRun = MessageInitShape<typeof ModuleRunSchema>;

/** How many runs the history keeps. */
const HISTORY_LIMIT = 20;

/** Mutable state of one module; the supervisor owns the writes. */
export class ModuleRecord {
  state: ModuleState = ModuleState.PENDING;
  stateChangedAt = new Date();
  lastError = "";
  pid = 0;
  port = 0;
  restarts = 0;
  /**
   * Automatic restarts over the orchestrator's life: unlike `restarts`, a start by hand
   * never resets it (the `callassistant_module_restarts_total` counter).
   */
  restartsTotal = 0;
  /** Starts over the module's life, by hand or automatic: the next run's number. */
  runs = 0;
  /** The number of the current (or last) run: 0 for the first start, never reset. */
  run = 0;
  startedAt?: Date;
  exitCode?: number;
  exitSignal = "";
  /**
   * The secret the current process presents to the EventService, handed over on its
   * standard input (`MODULE_TOKEN=<token>` as the first line).
   */
  token = "";
  /**
   * The same process's deprecated second secret, in its environment (`MODULE_TOKEN`): still
   * accepted for one release, with a warning. Readable in /proc/<pid>/environ by the same
   * user, so both are good only from the module's own processes (see peer_process.ts).
   */
  legacyToken = "";
  /** The live pids of the current process and everything it started; none when stopped. */
  processes: () => number[] = () => [];
  registration?: RegisterModuleResponse;
  health = {
    state: HealthState.UNSPECIFIED,
    message: "",
    checkedAt: undefined as Date | undefined,
    failures: 0,
  };
  readonly history: ModuleRun[] = [];
  /** The output tail; the instances of a replicated module share the module's. */
  log = new ModuleLog();
  /** 0 for the module itself, 1 and up for its other instances (`replicas` > 1). */
  replicaIndex = 0;
  /** The module's other instances, when its manifest asks for `replicas` > 1. */
  replicas: ModuleRecord[] = [];
  /** The last CPU and memory sample of its process tree (resource_sampler.ts). */
  resources?: ModuleResources;

  constructor(
    readonly name: string,
    /** The manifest; undefined when it could not be read (the module is FAILED). */
    public manifest: Manifest | undefined,
    /** Where the manifest lives. */
    public manifestPath: string,
    /** SHA-256 of the manifest text this record was loaded from. */
    public manifestDigest = "",
  ) {}

  /** "name" for the module itself, "name@i" for its other instances (data directories). */
  get instanceName(): string {
    return this.replicaIndex === 0 ? this.name : `${this.name}@${this.replicaIndex}`;
  }

  /** A record for instance `index` of this module, sharing its manifest and output tail. */
  newReplica(index: number): ModuleRecord {
    const r = new ModuleRecord(this.name, this.manifest, this.manifestPath, this.manifestDigest);
    r.replicaIndex = index;
    r.log = this.log;
    return r;
  }

  /** Records a process start in the history. */
  addRun(run: ModuleRun): void {
    this.history.push(run);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
  }

  /** The module as clients see it. */
  toProto(): Module {
    const ts = (d?: Date): Timestamp | undefined => d ? timestampFromDate(d) : undefined;
    const info = this.registration?.info;
    return create(ModuleSchema, {
      name: this.name,
      version: info?.version || this.manifest?.version || "",
      description: info?.description || this.manifest?.description || "",
      state: this.state,
      health: {
        state: this.health.state,
        message: this.health.message,
        checkedAt: ts(this.health.checkedAt),
        consecutiveFailures: this.health.failures,
      },
      pid: this.pid,
      grpcPort: this.port,
      restarts: this.restarts,
      lastError: this.lastError,
      capabilities: this.registration?.capabilities ?? [],
      manifestPath: this.manifestPath,
      dependencies: this.manifest?.dependencies ?? [],
      address: this.manifest?.address ?? "",
      startedAt: ts(this.startedAt),
      stateChangedAt: ts(this.stateChangedAt),
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      history: this.history,
      lastStderr: this.log.tailOf("stderr", 20),
      configSchema: this.registration?.configSchema,
      manifestDigest: this.manifestDigest,
      resources: this.resources,
      replicas: this.replicas.map((r) => ({
        index: r.replicaIndex,
        state: r.state,
        pid: r.pid,
        grpcPort: r.port,
        restarts: r.restarts,
        lastError: r.lastError,
        startedAt: ts(r.startedAt),
        resources: r.resources,
      })),
    });
  }
}

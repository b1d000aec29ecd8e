/**
 * Applies a seed file once per data directory: creates its entities as their modules come
 * up, then its flows once a path exists (the cheapest among the modules up at that moment:
 * a seed flow names its `targetProtocol` to be sure of its path), retrying every second (modules start at their
 * own pace) for at most `patienceMs`. When everything exists, `<data>/seed-applied.json`
 * records it, and later starts leave the data alone: what the user deleted stays deleted.
 */
import { EntityOrigin } from "@callassistant/protocol";
import type { Logger } from "../log/logger.ts";
import type { FlowManager } from "../flows/flow_manager.ts";
import type { Seed } from "./seed_file.ts";

/** What the seeder needs. */
export interface SeederOptions {
  seed: Seed;
  flows: FlowManager;
  dataDir: string;
  logger: Logger;
  /** How long to keep trying (default 3 minutes). */
  patienceMs?: number;
}

/** The file that says a data directory was seeded. */
export function seedMarker(dataDir: string): string {
  return `${dataDir}/seed-applied.json`;
}

/** Creates the seed's entities and flows, once. */
export class Seeder {
  #timer?: ReturnType<typeof setInterval>;
  #busy = false;
  readonly #errors = new Map<string, string>();
  #startedAt = 0;

  readonly #options: SeederOptions;

  constructor(options: SeederOptions) {
    this.#options = options;
  }

  /** Starts applying, unless the data directory was seeded before. */
  start(): void {
    const { seed, dataDir, logger } = this.#options;
    try {
      Deno.statSync(seedMarker(dataDir));
      logger.debug("seed already applied", { seed: seed.path });
      return;
    } catch {
      // Not seeded yet.
    }
    this.#startedAt = Date.now();
    this.#timer = setInterval(() => void this.tick(), 1000);
    void this.tick();
  }

  /** Stops trying. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One attempt at whatever is missing; public for tests. */
  async tick(): Promise<void> {
    if (this.#busy || this.#timer === undefined) return;
    this.#busy = true;
    try {
      const missing = await this.#applyMissing();
      if (missing.length === 0) this.#done();
      else if (Date.now() - this.#startedAt > (this.#options.patienceMs ?? 180_000)) {
        this.stop();
        this.#options.logger.error("seed not fully applied: giving up", {
          seed: this.#options.seed.path,
          missing: missing.map((id) => `${id} (${this.#errors.get(id) ?? "waiting"})`).join("; "),
        });
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Creates what does not exist yet; returns the ids still missing. */
  async #applyMissing(): Promise<string[]> {
    const { seed, flows } = this.#options;
    const missing: string[] = [];
    for (const e of seed.entities) {
      if (flows.entities.get(e.id)) continue;
      try {
        await flows.createEntity({
          id: e.id,
          entityType: e.entityType,
          module: e.module,
          name: e.name ?? e.id,
          configuration: e.configuration,
          origin: EntityOrigin.CREATED,
        });
        this.#options.logger.info("seed: entity created", { entity: e.id });
      } catch (err) {
        this.#note(e.id, err);
        missing.push(e.id);
      }
    }
    for (const f of seed.flows) {
      if (flows.get(f.id)) continue;
      missing.push(f.id);
      if (!flows.entities.get(f.sourceEntityId) || !flows.entities.get(f.targetEntityId)) continue;
      try {
        // Only once a path exists: a failed creation leaves a FAILED flow behind.
        flows.findPath(f.sourceEntityId, f.targetEntityId, f.targetProtocol ?? "");
        await flows.create({ ...f });
        this.#options.logger.info("seed: flow created", { flow: f.id });
        missing.pop();
      } catch (err) {
        this.#note(f.id, err);
        if (flows.get(f.id)) await flows.delete(f.id).catch(() => {});
      }
    }
    return missing;
  }

  #note(id: string, err: unknown): void {
    const message = (err as Error).message;
    if (this.#errors.get(id) === message) return;
    this.#errors.set(id, message);
    this.#options.logger.debug("seed: not yet", { item: id, reason: message });
  }

  #done(): void {
    const { seed, dataDir, logger } = this.#options;
    this.stop();
    Deno.writeTextFileSync(
      seedMarker(dataDir),
      JSON.stringify(
        {
          seed: seed.path,
          appliedAt: new Date().toISOString(),
          entities: seed.entities.map((e) => e.id),
          flows: seed.flows.map((f) => f.id),
        },
        null,
        2,
      ) + "\n",
    );
    logger.info("seed applied", { seed: seed.path });
  }
}

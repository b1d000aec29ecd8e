/**
 * The capability index: which module provides which entity types, with their kinds,
 * formats and converter transforms, from each module's `RegisterModule` answer. The
 * last registration of a module is remembered while it restarts, so its entities keep
 * their kind and formats.
 */
import type { EntityCapability, MediaFormat } from "@callassistant/protocol";
import { formatKey, isValidFormat, normalizeFormat, transformCost } from "./formats.ts";
import type { ModuleDirectory } from "../module_calls/module_caller.ts";
import { SERVING_STATES } from "../modules/module_registry.ts";

/** One transform of a converter entity type of one module. */
export interface ConverterEdge {
  module: string;
  entityType: string;
  input: MediaFormat;
  output: MediaFormat;
  /** `cpu + latency_ms / 10 + quality_loss * 10`. */
  cost: number;
  /** `formatKey(input)` and `formatKey(output)`, when computed in advance. */
  inputKey?: string;
  outputKey?: string;
}

/** An entity type and the modules providing it. */
export interface KnownType {
  entityType: string;
  modules: string[];
}

/** Entity capabilities of every module, by module and by type. */
export class CapabilityIndex {
  readonly #remembered = new Map<string, EntityCapability[]>();
  /** Converter edges by registration (its capability list), computed once each. */
  readonly #edgeCache = new WeakMap<EntityCapability[], ConverterEdge[]>();

  readonly #modules: ModuleDirectory;

  constructor(modules: ModuleDirectory) {
    this.#modules = modules;
  }

  /** Remembers the module's current registration (call on every state change). */
  remember(module: string): void {
    const registration = this.#modules.registration(module);
    if (registration) this.#remembered.set(module, registration.capabilities);
  }

  /** The capabilities the module declared (in its current or last registration). */
  of(module: string): EntityCapability[] {
    this.remember(module);
    return this.#remembered.get(module) ?? [];
  }

  /** The capability of `entityType` in `module`, if declared. */
  find(module: string, entityType: string): EntityCapability | undefined {
    return this.of(module).find((c) => c.entityType === entityType);
  }

  /** Modules (known now) that declare `entityType`, sorted. */
  providers(entityType: string): string[] {
    return this.#modules.names().filter((m) => this.find(m, entityType) !== undefined).sort();
  }

  /** Every entity type some known module declares, sorted by type. */
  knownTypes(): KnownType[] {
    const byType = new Map<string, string[]>();
    for (const module of this.#modules.names()) {
      for (const c of this.of(module)) {
        const list = byType.get(c.entityType) ?? [];
        if (!list.includes(module)) list.push(module);
        byType.set(c.entityType, list);
      }
    }
    return [...byType.keys()].sort().map((entityType) => ({
      entityType,
      modules: byType.get(entityType)!.sort(),
    }));
  }

  /** Valid formats an entity of this type emits (its outputs). */
  outputsOf(module: string, entityType: string): MediaFormat[] {
    return (this.find(module, entityType)?.outputs ?? []).filter(isValidFormat).map(
      normalizeFormat,
    );
  }

  /** Valid formats an entity of this type accepts (its inputs). */
  inputsOf(module: string, entityType: string): MediaFormat[] {
    return (this.find(module, entityType)?.inputs ?? []).filter(isValidFormat).map(normalizeFormat);
  }

  /**
   * Every valid transform of every converter type of the modules that are running
   * (READY or DEGRADED), or of every known module with `anyState`.
   */
  converters(anyState = false): ConverterEdge[] {
    const edges: ConverterEdge[] = [];
    for (const module of this.#modules.names()) {
      const state = this.#modules.state(module);
      if (state === undefined || (!anyState && !SERVING_STATES.has(state))) continue;
      const capabilities = this.of(module);
      // The edges of one registration are computed once: path-finding asks for them on
      // every search, and normalizing thousands of formats each time dominated it.
      let own = this.#edgeCache.get(capabilities);
      if (!own) {
        own = moduleEdges(module, capabilities);
        this.#edgeCache.set(capabilities, own);
      }
      for (const e of own) edges.push(e);
    }
    return edges;
  }
}

/** The valid transforms of a module's converter types, as edges. */
function moduleEdges(module: string, capabilities: EntityCapability[]): ConverterEdge[] {
  const edges: ConverterEdge[] = [];
  for (const capability of capabilities) {
    for (const t of capability.transforms) {
      if (!t.input || !t.output || !isValidFormat(t.input) || !isValidFormat(t.output)) {
        continue;
      }
      if (t.input.mediaType !== t.output.mediaType) continue;
      const input = normalizeFormat(t.input);
      const output = normalizeFormat(t.output);
      edges.push({
        module,
        entityType: capability.entityType,
        input,
        output,
        cost: transformCost(t.cost),
        inputKey: formatKey(input),
        outputKey: formatKey(output),
      });
    }
  }
  return edges;
}

/**
 * A seed file (`run --seed FILE`): entities and flows a fresh data directory starts
 * with, so that `deno task start` shows a camera on a screen without a single call.
 *
 * ```yaml
 * entities:
 *   - { id: test-pattern, entityType: test_pattern, module: camera, name: Test pattern,
 *       configuration: { resolution: 1280x720 } }
 *   - { id: tv, entityType: web_screen, name: TV }
 * flows:
 *   - { id: test-pattern-to-tv, sourceEntityId: test-pattern, targetEntityId: tv,
 *       targetProtocol: webrtc }
 * ```
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";

/** An entity to create. */
export interface SeedEntity {
  id: string;
  entityType: string;
  module?: string;
  name?: string;
  configuration?: JsonObject;
}

/** A flow to create. */
export interface SeedFlow {
  id: string;
  sourceEntityId: string;
  targetEntityId: string;
  targetProtocol?: string;
}

/** What a seed file holds. */
export interface Seed {
  path: string;
  entities: SeedEntity[];
  flows: SeedFlow[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fields(
  where: string,
  item: unknown,
  required: string[],
  optional: string[],
): Record<string, unknown> {
  if (!isObject(item)) throw new Error(`${where}: expected a mapping`);
  for (const key of Object.keys(item)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new Error(
        `${where}: unknown field "${key}" (fields: ${[...required, ...optional].join(", ")})`,
      );
    }
  }
  for (const key of required) {
    if (typeof item[key] !== "string" || !(item[key] as string).trim()) {
      throw new Error(`${where}.${key}: required, a string`);
    }
  }
  for (const key of optional) {
    if (key === "configuration") {
      if (item[key] !== undefined && !isObject(item[key])) {
        throw new Error(`${where}.configuration: expected a mapping`);
      }
    } else if (item[key] !== undefined && typeof item[key] !== "string") {
      throw new Error(`${where}.${key}: expected a string`);
    }
  }
  if (!ID.test(item.id as string)) {
    throw new Error(`${where}.id: "${item.id}" is not valid (letters, digits, '.', '_', '-')`);
  }
  return item;
}

/** Parses a seed file's text; throws naming the file and the bad field. */
export function parseSeed(path: string, text: string): Seed {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    // The parser's message has a code frame after its first line.
    const first = (err as Error).message.split("\n")[0];
    throw new Error(`--seed ${path}: YAML syntax error: ${first}`);
  }
  try {
    if (!isObject(data)) throw new Error("expected a mapping with entities and flows");
    for (const key of Object.keys(data)) {
      if (key !== "entities" && key !== "flows") {
        throw new Error(`unknown key "${key}" (keys: entities, flows)`);
      }
    }
    const list = (key: string) => {
      const v = data[key] ?? [];
      if (!Array.isArray(v)) throw new Error(`${key}: expected a list`);
      return v as unknown[];
    };
    const entities = list("entities").map((e, i) =>
      fields(`entities[${i}]`, e, ["id", "entityType"], ["module", "name", "configuration"])
    ) as unknown as SeedEntity[];
    const flows = list("flows").map((f, i) =>
      fields(`flows[${i}]`, f, ["id", "sourceEntityId", "targetEntityId"], ["targetProtocol"])
    ) as unknown as SeedFlow[];
    return { path, entities, flows };
  } catch (err) {
    throw new Error(`--seed ${path}: ${(err as Error).message}`);
  }
}

/** Reads and parses a seed file. */
export async function readSeed(path: string): Promise<Seed> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(`--seed ${path}: cannot read it: ${(err as Error).message}`);
  }
  return parseSeed(path, text);
}

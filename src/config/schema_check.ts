/** Validates a module configuration against the JSON Schema the module declared. */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Ajv2020, ValidateFunction } from "ajv/dist/2020.js";

// Loaded at the first configuration checked, not at start: few runs change one.
let ajv: Promise<Ajv2020> | undefined;
const cache = new Map<string, ValidateFunction>();

/**
 * The problems of `config` against `schema`, each with the dotted path of its field
 * (empty for the whole configuration, or an unusable schema); empty when valid.
 */
export async function configViolations(
  schema: JsonObject,
  config: JsonObject,
): Promise<{ field: string; description: string }[]> {
  ajv ??= import("ajv/dist/2020.js").then(({ Ajv2020 }) =>
    new Ajv2020({ allErrors: true, strict: false, validateFormats: false })
  );
  const compiler = await ajv;
  const key = JSON.stringify(schema);
  let validate = cache.get(key);
  if (!validate) {
    try {
      validate = compiler.compile(schema);
    } catch (err) {
      return [{
        field: "",
        description: `the module's configuration schema is invalid: ${(err as Error).message}`,
      }];
    }
    cache.set(key, validate);
  }
  if (validate(config)) return [];
  return (validate.errors ?? []).map((e) => {
    const path = e.instancePath.slice(1).replaceAll("/", ".");
    const field = e.keyword === "additionalProperties"
      ? [path, e.params.additionalProperty].filter(Boolean).join(".")
      : e.keyword === "required"
      ? [path, e.params.missingProperty].filter(Boolean).join(".")
      : path;
    const message = e.keyword === "additionalProperties"
      ? "unknown field"
      : e.keyword === "required"
      ? "is required"
      : e.message ?? "is invalid";
    return { field, description: message };
  });
}

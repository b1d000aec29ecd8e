/** Validates a module configuration against the JSON Schema the module declared. */
import type { JsonObject } from "@bufbuild/protobuf";
import { Ajv2020 } from "ajv/dist/2020.js";

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
const cache = new Map<string, ReturnType<typeof ajv.compile>>();

/**
 * The problems of `config` against `schema`, one readable line each ("port: must be <=
 * 65535"); empty when valid. An unusable schema is reported as a problem too.
 */
export function configProblems(schema: JsonObject, config: JsonObject): string[] {
  const key = JSON.stringify(schema);
  let validate = cache.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } catch (err) {
      return [`the module's configuration schema is invalid: ${(err as Error).message}`];
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
    return field ? `${field}: ${message}` : message;
  });
}

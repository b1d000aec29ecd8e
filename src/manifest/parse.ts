/**
 * Parses and validates a module.yaml against the published JSON Schema
 * (`module.schema.json`), reporting each problem with its file, line and field.
 */
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { type Document, isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import { splitCommand } from "./command.ts";
import { parseDuration } from "./duration.ts";
import { parseModuleTls } from "./tls.ts";
import { parseLimits } from "./limits.ts";
import { DEFAULTS, type Manifest, type ManifestProblem } from "./manifest.ts";

import { validate as generatedValidate } from "../gen/manifest_validate.ts";

// The schema compiled ahead of time by `deno task gen`: no ajv at run time.
const validate = generatedValidate as ValidateFunction;

/** The result of parsing one manifest: a manifest, or problems (and the best-known name). */
export type ParseResult =
  | { ok: true; manifest: Manifest }
  | { ok: false; name: string; problems: ManifestProblem[]; digest: string };

/** SHA-256 (hex) of a manifest's text. */
export function manifestDigest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function lineOf(doc: Document, counter: LineCounter, path: string[], key?: string): number {
  const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
    const keyNode = pair?.key as { range?: [number, number, number] } | undefined;
    if (keyNode?.range) return counter.linePos(keyNode.range[0]).line;
  }
  if (node?.range) return counter.linePos(node.range[0]).line;
  return path.length > 0 ? lineOf(doc, counter, path.slice(0, -1)) : 0;
}

function describeTypeErrors(errors: ErrorObject[]): string {
  const types = errors.filter((e) => e.keyword === "type").map((e) => e.params.type);
  if (types.length > 0) return `must be ${[...new Set(types.flat())].join(" or ")}`;
  const other = errors.find((e) => e.keyword !== "oneOf");
  return other?.message ?? "is invalid";
}

/** Turns ajv errors into one problem per field, with readable messages. */
function problemsOf(
  errors: ErrorObject[],
  file: string,
  doc: Document,
  counter: LineCounter,
): ManifestProblem[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const key = e.keyword === "additionalProperties"
      ? `${e.instancePath}/${e.params.additionalProperty}`
      : e.instancePath;
    byPath.set(key, [...(byPath.get(key) ?? []), e]);
  }
  const problems: ManifestProblem[] = [];
  for (const [key, errs] of byPath) {
    const path = key.split("/").slice(1);
    const field = path.join(".");
    const first = errs[0];
    let message: string;
    let line: number;
    if (first.keyword === "additionalProperties") {
      message = "unknown field";
      line = lineOf(doc, counter, path.slice(0, -1), path[path.length - 1]);
    } else if (first.keyword === "required") {
      message = `missing required field "${first.params.missingProperty}"`;
      line = lineOf(doc, counter, path);
    } else if (first.keyword === "enum") {
      message = `must be one of ${(first.params.allowedValues as string[]).join(", ")}`;
      line = lineOf(doc, counter, path);
    } else if (errs.some((e) => e.keyword === "oneOf")) {
      message = describeTypeErrors(errs);
      line = lineOf(doc, counter, path);
    } else {
      message = first.message ?? "is invalid";
      line = lineOf(doc, counter, path);
    }
    problems.push({ file, line, field, message });
  }
  return problems;
}

function argv(value: unknown): string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? splitCommand(value) : (value as string[]);
}

/** Parses the text of a module.yaml found at `file` (an absolute path). */
export function parseManifest(text: string, file: string): ParseResult {
  const digest = manifestDigest(text);
  const fallbackName = dirname(file).split("/").pop() ?? "module";
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      file,
      line: e.linePos?.[0].line ?? counter.linePos(e.pos[0]).line,
      field: "",
      message: `YAML syntax error: ${e.message.split("\n")[0]}`,
    }));
    return { ok: false, name: fallbackName, problems, digest };
  }
  const data = doc.toJS() as Record<string, unknown> | null;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return {
      ok: false,
      name: fallbackName,
      problems: [{ file, line: 1, field: "", message: "must be a mapping of fields" }],
      digest,
    };
  }
  const name = typeof data.name === "string" && data.name ? data.name : fallbackName;
  const problems = validate(data) ? [] : problemsOf(validate.errors ?? [], file, doc, counter);
  if (data.command === undefined && data.address === undefined) {
    problems.push({
      file,
      line: 1,
      field: "command",
      message: 'missing required field "command" (or "address" for a remote module)',
    });
  }
  if (data.address !== undefined && (data.user !== undefined || data.group !== undefined)) {
    const field = data.user !== undefined ? "user" : "group";
    problems.push({
      file,
      line: lineOf(doc, counter, [], field),
      field,
      message: "only for modules the orchestrator starts, not with address",
    });
  } else if (data.group !== undefined && data.user === undefined) {
    problems.push({
      file,
      line: lineOf(doc, counter, [], "group"),
      field: "group",
      message: 'goes with "user"',
    });
  }
  let command: string[] = [];
  let devCommand: string[] = [];
  for (const [field, value] of [["command", data.command], ["dev_command", data.dev_command]]) {
    if (typeof value !== "string") continue;
    try {
      splitCommand(value);
    } catch (err) {
      problems.push({
        file,
        line: lineOf(doc, counter, [field as string]),
        field: field as string,
        message: (err as Error).message,
      });
    }
  }
  const tls = parseModuleTls(
    data.tls as Record<string, string> | undefined,
    data.address as string | undefined,
    dirname(resolve(file)),
  );
  const limits = parseLimits(data.limits, data.address !== undefined);
  for (const [field, message] of limits.problems) {
    const path = field.split(".");
    problems.push({
      file,
      line: lineOf(doc, counter, path.slice(0, -1), path.at(-1)),
      field,
      message,
    });
  }
  if (problems.length === 0) {
    for (const [field, message] of tls.problems) {
      const path = field.split(".");
      const line = lineOf(doc, counter, path.slice(0, -1), path.at(-1));
      problems.push({ file, line, field, message });
    }
  }
  const media = (data.media ?? {}) as Record<string, unknown>;
  let stallTimeoutMs: number | undefined;
  if (problems.length === 0 && media.stall_timeout !== undefined) {
    stallTimeoutMs = parseDuration(media.stall_timeout as number | string);
    if (stallTimeoutMs < 1_000 || stallTimeoutMs > 600_000) {
      problems.push({
        file,
        line: lineOf(doc, counter, ["media"], "stall_timeout"),
        field: "media.stall_timeout",
        message: `must be from 1s to 10m (got ${stallTimeoutMs / 1000}s)`,
      });
    }
  }
  if (problems.length > 0) return { ok: false, name, problems, digest };

  command = argv(data.command);
  devCommand = argv(data.dev_command);
  const restart = (data.restart ?? {}) as Record<string, unknown>;
  const backoff = (restart.backoff ?? {}) as Record<string, number | string>;
  const health = (data.health ?? {}) as Record<string, unknown>;
  const ms = (v: unknown, fallback: number) =>
    v === undefined ? fallback : parseDuration(v as number | string);
  const manifest: Manifest = {
    name,
    version: String(data.version ?? "0.0.0"),
    description: String(data.description ?? ""),
    command,
    devCommand: devCommand.length > 0 ? devCommand : command,
    dependencies: (data.dependencies as string[] | undefined) ?? [],
    env: Object.fromEntries(
      Object.entries((data.env ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    ),
    restart: {
      policy: (restart.policy as Manifest["restart"]["policy"]) ?? DEFAULTS.restart.policy,
      backoffInitialMs: ms(backoff.initial, DEFAULTS.restart.backoffInitialMs),
      backoffMaxMs: ms(backoff.max, DEFAULTS.restart.backoffMaxMs),
      limit: (restart.limit as number | undefined) ?? DEFAULTS.restart.limit,
      windowMs: ms(restart.window, DEFAULTS.restart.windowMs),
      stableAfterMs: ms(restart.stable_after, DEFAULTS.restart.stableAfterMs),
    },
    health: {
      intervalMs: ms(health.interval, DEFAULTS.health.intervalMs),
      timeoutMs: ms(health.timeout, DEFAULTS.health.timeoutMs),
      failureThreshold: (health.failure_threshold as number | undefined) ??
        DEFAULTS.health.failureThreshold,
      startGraceMs: ms(health.start_grace, DEFAULTS.health.startGraceMs),
    },
    startTimeoutMs: ms(data.start_timeout, DEFAULTS.startTimeoutMs),
    stopTimeoutMs: ms(data.stop_timeout, DEFAULTS.stopTimeoutMs),
    replicas: (data.replicas as number | undefined) ?? DEFAULTS.replicas,
    media: { stallTimeoutMs },
    limits: limits.limits,
    user: (data.user as string | undefined) ?? "",
    group: (data.group as string | undefined) ?? "",
    address: (data.address as string | undefined) ?? "",
    tls: tls.tls,
    path: resolve(file),
    dir: dirname(resolve(file)),
    digest,
  };
  return { ok: true, manifest };
}

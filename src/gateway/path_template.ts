/**
 * Path templates of `google.api.http` annotations: parsing (`/v1/{name=projects/*}:verb`)
 * and matching a request path against one, with the variables' values.
 */

/** One segment of a path template. */
export type TemplateSegment =
  /** A fixed segment, compared after percent-decoding the request path. */
  | { readonly kind: "literal"; readonly value: string }
  /** `*`: exactly one non-empty segment. */
  | { readonly kind: "wildcard" }
  /** `**`: zero or more segments; only allowed last. */
  | { readonly kind: "deep" };

/** A `{field.path=...}` variable, bound to the template segments `[start, end)`. */
export interface TemplateVariable {
  /** The request field it sets, e.g. `["name"]` or `["parent", "id"]`. */
  readonly fieldPath: readonly string[];
  /** Index of the first template segment it covers. */
  readonly start: number;
  /** Index after the last template segment it covers. */
  readonly end: number;
}

/** A parsed `google.api.http` path template, e.g. `/v1/modules/{name}:restart`. */
export interface PathTemplate {
  /** The template text as written in the proto. */
  readonly source: string;
  /** The segments between slashes, variables expanded to what they match. */
  readonly segments: readonly TemplateSegment[];
  /** The variables, in order. */
  readonly variables: readonly TemplateVariable[];
  /** The custom verb after the last segment (`restart` for `...:restart`), if any. */
  readonly verb: string | undefined;
}

/** Path variable values by dotted field path (`"name"`, `"parent.id"`). */
export type PathVariables = Readonly<Record<string, string>>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a path template (`/v1/{name=projects/*}/items/{item}:verb`). Throws an Error
 * describing the first problem for an invalid template.
 */
export function parseTemplate(source: string): PathTemplate {
  const fail = (why: string): never => {
    throw new Error(`invalid path template "${source}": ${why}`);
  };
  if (!source.startsWith("/")) fail("it must start with '/'");

  // The verb follows the last ':' outside braces that comes after the last '/'.
  let depth = 0;
  let lastSlash = -1;
  let colon = -1;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "{") depth++;
    else if (ch === "}") depth--;
    else if (depth === 0 && ch === "/") {
      lastSlash = i;
      colon = -1;
    } else if (depth === 0 && ch === ":" && i > lastSlash) colon = i;
    if (depth < 0 || depth > 1) fail("unbalanced braces");
  }
  if (depth !== 0) fail("unbalanced braces");
  let verb: string | undefined;
  let path = source;
  if (colon >= 0) {
    verb = source.slice(colon + 1);
    path = source.slice(0, colon);
    if (verb === "" || /[/{}*]/.test(verb)) fail(`bad verb "${verb}"`);
  }

  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  const rest = path.slice(1);
  if (rest !== "") {
    // Split on '/' outside braces.
    const parts: string[] = [];
    let current = "";
    depth = 0;
    for (const ch of rest) {
      if (ch === "{") depth++;
      if (ch === "}") depth--;
      if (ch === "/" && depth === 0) {
        parts.push(current);
        current = "";
      } else current += ch;
    }
    parts.push(current);
    for (const part of parts) {
      if (part.startsWith("{")) {
        if (!part.endsWith("}")) fail(`bad variable "${part}"`);
        const inner = part.slice(1, -1);
        const eq = inner.indexOf("=");
        const name = eq < 0 ? inner : inner.slice(0, eq);
        const fieldPath = name.split(".");
        if (!fieldPath.every((p) => IDENT.test(p))) fail(`bad field path "${name}"`);
        if (variables.some((v) => v.fieldPath.join(".") === name)) {
          fail(`variable "${name}" appears twice`);
        }
        const start = segments.length;
        if (eq < 0) segments.push({ kind: "wildcard" });
        else {
          const sub = inner.slice(eq + 1);
          if (sub === "") fail(`empty pattern for variable "${name}"`);
          for (const s of sub.split("/")) segments.push(plainSegment(s, fail));
        }
        variables.push({ fieldPath, start, end: segments.length });
      } else segments.push(plainSegment(part, fail));
    }
  }
  const deep = segments.findIndex((s) => s.kind === "deep");
  if (deep >= 0 && deep !== segments.length - 1) fail("'**' must be the last segment");
  return { source, segments, variables, verb };
}

function plainSegment(text: string, fail: (why: string) => never): TemplateSegment {
  if (text === "*") return { kind: "wildcard" };
  if (text === "**") return { kind: "deep" };
  if (text === "") fail("empty segment");
  if (/[{}*=]/.test(text)) fail(`bad segment "${text}"`);
  return { kind: "literal", value: text };
}

function decodeSegment(raw: string): string | undefined {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Decodes a multi-segment variable value, keeping encoded slashes (`%2F`) encoded. */
function decodeMulti(raw: string): string | undefined {
  const pieces = raw.split(/%2F/i).map(decodeSegment);
  return pieces.some((p) => p === undefined) ? undefined : pieces.join("%2F");
}

/** A request path split into segments once, each segment decoded on first use. */
export class SplitPath {
  /** The segments between slashes, still percent-encoded; undefined when not absolute. */
  readonly parts: readonly string[] | undefined;
  readonly #decoded: (string | null | undefined)[] = [];

  constructor(readonly path: string) {
    this.parts = !path.startsWith("/") ? undefined : path === "/" ? [] : path.slice(1).split("/");
  }

  /** Segment `i` percent-decoded; undefined when it is not valid percent-encoding. */
  decoded(i: number): string | undefined {
    let d = this.#decoded[i];
    if (d === undefined) d = this.#decoded[i] = decodeSegment(this.parts![i]) ?? null;
    return d ?? undefined;
  }
}

/** The path without one trailing slash. */
export function trimSlash(pathname: string): string {
  return pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
}

/** Whether `path` ends with `:verb`. */
export function hasVerb(path: string, verb: string): boolean {
  return path.length > verb.length && path[path.length - verb.length - 1] === ":" &&
    path.endsWith(verb);
}

/** Matches split path segments (the verb already removed) against a template. */
export function matchParts(template: PathTemplate, split: SplitPath): PathVariables | undefined {
  const parts = split.parts;
  if (!parts) return undefined;
  const segs = template.segments;
  const deep = segs.length > 0 && segs[segs.length - 1].kind === "deep";
  if (deep ? parts.length < segs.length - 1 : parts.length !== segs.length) return undefined;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (seg.kind === "deep") break;
    if (seg.kind === "wildcard") {
      if (parts[i] === "") return undefined;
    } else if (split.decoded(i) !== seg.value) return undefined;
  }
  const variables: Record<string, string> = {};
  for (const v of template.variables) {
    const single = v.end - v.start === 1 && segs[v.start].kind !== "deep";
    let value: string | undefined;
    if (single) value = split.decoded(v.start);
    else {
      const end = deep && v.end === segs.length ? parts.length : v.end;
      value = decodeMulti(parts.slice(v.start, end).join("/"));
    }
    if (value === undefined) return undefined;
    variables[v.fieldPath.join(".")] = value;
  }
  return variables;
}

/**
 * Matches a request path (still percent-encoded, as in `URL.pathname`) against a
 * template. Returns the variable values, or undefined when the path does not match. One
 * trailing slash is ignored.
 */
export function matchTemplate(template: PathTemplate, pathname: string): PathVariables | undefined {
  let path = trimSlash(pathname);
  if (template.verb !== undefined) {
    if (!hasVerb(path, template.verb)) return undefined;
    path = path.slice(0, -template.verb.length - 1);
  }
  return matchParts(template, new SplitPath(path));
}

/**
 * The gateway's route table, derived from the `google.api.http` annotations of the
 * service descriptors (plus `POST /<package>.<Service>/<Method>` for every RPC), and the
 * lookup of the route of a request. One generic table serves every RPC; nothing here
 * knows a particular service.
 */
import { type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { http } from "@callassistant/protocol/google/api/annotations";
import type { HttpRule } from "@callassistant/protocol/google/api/http";
import {
  hasVerb,
  matchParts,
  parseTemplate,
  type PathTemplate,
  type PathVariables,
  SplitPath,
  type TemplateSegment,
  trimSlash,
} from "./path_template.ts";
import { findField, resolvePath, settableFromString } from "./request_fields.ts";

/** One HTTP route of an RPC. */
export interface Route {
  /** The HTTP method, upper case (`GET`, `POST`, or a custom verb's kind). */
  readonly httpMethod: string;
  /** The path template. */
  readonly template: PathTemplate;
  /** `"*"` for the whole request from the body, a top-level field name, or `""` for none. */
  readonly body: string;
  /** The top-level response field sent as the body; `""` for the whole response. */
  readonly responseBody: string;
  /** The service of the RPC. */
  readonly service: DescService;
  /** The RPC. */
  readonly method: DescMethod;
  /** False for the RPC-style `POST /<package>.<Service>/<Method>` route every RPC has. */
  readonly annotated: boolean;
}

/** The outcome of {@link matchRoute}. */
export type RouteMatch =
  | { readonly kind: "found"; readonly route: Route; readonly variables: PathVariables }
  | { readonly kind: "method_not_allowed"; readonly allowed: readonly string[] }
  | { readonly kind: "not_found" };

function ruleRoutes(
  service: DescService,
  method: DescMethod,
  rule: HttpRule,
  nested: boolean,
): Route[] {
  const where = `${service.typeName}.${method.name}`;
  let httpMethod: string;
  let path: string;
  switch (rule.pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = rule.pattern.case.toUpperCase();
      path = rule.pattern.value;
      break;
    case "custom":
      httpMethod = rule.pattern.value.kind.toUpperCase();
      path = rule.pattern.value.path;
      break;
    default:
      throw new Error(`${where}: google.api.http rule without a pattern`);
  }
  let template: PathTemplate;
  try {
    template = parseTemplate(path);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  for (const v of template.variables) {
    const fields = resolvePath(method.input, v.fieldPath);
    if (typeof fields === "string") {
      throw new Error(`${where}: path variable "${v.fieldPath.join(".")}": ${fields}`);
    }
    if (!settableFromString(fields[fields.length - 1], false)) {
      throw new Error(`${where}: path variable "${v.fieldPath.join(".")}" is not a scalar`);
    }
  }
  if (rule.body !== "" && rule.body !== "*" && !findField(method.input, rule.body)) {
    throw new Error(`${where}: body field "${rule.body}" is not in ${method.input.typeName}`);
  }
  if (rule.responseBody !== "" && !findField(method.output, rule.responseBody)) {
    throw new Error(
      `${where}: response_body field "${rule.responseBody}" is not in ${method.output.typeName}`,
    );
  }
  const routes: Route[] = [{
    httpMethod,
    template,
    body: rule.body,
    responseBody: rule.responseBody,
    service,
    method,
    annotated: true,
  }];
  if (!nested) {
    for (const extra of rule.additionalBindings) {
      routes.push(...ruleRoutes(service, method, extra, true));
    }
  }
  return routes;
}

function segmentRank(seg: TemplateSegment | undefined): number {
  if (seg === undefined) return 3;
  return seg.kind === "literal" ? 0 : seg.kind === "wildcard" ? 1 : 2;
}

/** Orders routes so the most specific template is tried first. */
function compareRoutes(a: Route, b: Route): number {
  const sa = a.template.segments;
  const sb = b.template.segments;
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const d = segmentRank(sa[i]) - segmentRank(sb[i]);
    if (d !== 0) return d;
  }
  return (a.template.verb === undefined ? 1 : 0) - (b.template.verb === undefined ? 1 : 0);
}

/**
 * Derives the routes of services: one per `google.api.http` binding (with its
 * `additional_bindings`), plus `POST /<package>.<Service>/<Method>` (whole request as the
 * body) for every RPC. Sorted most specific first, the order {@link matchRoute} tries
 * them in. Throws for an annotation that does not fit its request message.
 */
export function buildRoutes(services: readonly DescService[]): Route[] {
  const annotated: Route[] = [];
  const rpc: Route[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (hasOption(method, http)) {
        annotated.push(...ruleRoutes(service, method, getOption(method, http), false));
      }
      rpc.push({
        httpMethod: "POST",
        template: {
          source: `/${service.typeName}/${method.name}`,
          segments: [
            { kind: "literal", value: service.typeName },
            { kind: "literal", value: method.name },
          ],
          variables: [],
          verb: undefined,
        },
        body: "*",
        responseBody: "",
        service,
        method,
        annotated: false,
      });
    }
  }
  return [...annotated.sort(compareRoutes), ...rpc];
}

/**
 * Finds the route for a request: the first route (in the given order) whose template
 * matches the path and whose method is `method`; `method_not_allowed` with the methods
 * the path accepts when only others match.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  pathname: string,
): RouteMatch {
  const wanted = method.toUpperCase();
  const path = trimSlash(pathname);
  // The path is split once, and once more per verb it ends with.
  const plain = new SplitPath(path);
  let verbal: SplitPath | undefined;
  let allowed: Set<string> | undefined;
  for (const route of routes) {
    const verb = route.template.verb;
    let split = plain;
    if (verb !== undefined) {
      if (!hasVerb(path, verb)) continue;
      const stripped = path.slice(0, -verb.length - 1);
      if (verbal?.path !== stripped) verbal = new SplitPath(stripped);
      split = verbal;
    }
    const variables = matchParts(route.template, split);
    if (!variables) continue;
    if (route.httpMethod === wanted) return { kind: "found", route, variables };
    (allowed ??= new Set()).add(route.httpMethod);
  }
  return allowed ? { kind: "method_not_allowed", allowed: [...allowed] } : { kind: "not_found" };
}

/**
 * Helpers for end-to-end tests of entities and flows: module manifests that run the
 * example modules (by absolute path) from a temporary modules directory, and a small
 * JSON client of the gateway.
 */
import { ROOT, waitFor } from "../helpers/test_orchestrator.ts";

/** Where each example runs from: the simulators are test fixtures, the fakes of devices
 * this environment lacks are in `modules/`. */
export const EXAMPLE_PROGRAMS = {
  "test-camera": "tests/fixtures/simulators/test-camera/main.ts",
  "media-converter": "tests/fixtures/simulators/media-converter/main.ts",
  "matrix-call": "modules/matrix-call/main.ts",
} as const;

/** Writes `<dir>/<name>/module.yaml` running the example module or simulator `example`. */
export async function addExample(
  dir: string,
  example: "test-camera" | "media-converter" | "matrix-call" | "cast-screen",
  name: string = example,
  extra = "",
): Promise<void> {
  const command = example === "cast-screen"
    ? `["/usr/bin/python3", "${ROOT}modules/cast-screen/cast_screen.py"]`
    : `["deno", "run", "--allow-all", "${ROOT}${EXAMPLE_PROGRAMS[example]}"]`;
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${name}/module.yaml`,
    `name: ${name}\nversion: "0.1.0"\ncommand: ${command}\n${extra}`,
  );
}

/** Writes a manifest running the test fixture `tests/fixtures/<fixture>/main.ts`. */
export async function addFixture(dir: string, fixture: string, name = fixture): Promise<void> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${name}/module.yaml`,
    `name: ${name}\ncommand: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/${fixture}/main.ts"]\n`,
  );
}

/** A JSON answer of the gateway. */
export interface Reply {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Calls the gateway with a JSON body. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

/** Calls the gateway and fails unless it answers 200; returns the body. */
// deno-lint-ignore no-explicit-any
export async function ok(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const reply = await call(base, method, path, body);
  if (reply.status !== 200) {
    throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  }
  return reply.body;
}

/** Waits until every named module is READY; returns the modules by name. */
export async function waitReady(
  base: string,
  names: string[],
  timeoutMs = 30_000,
  // deno-lint-ignore no-explicit-any
): Promise<Record<string, any>> {
  return await waitFor(
    async () => {
      const { modules } = await ok(base, "GET", "/v1/modules");
      // deno-lint-ignore no-explicit-any
      const byName = Object.fromEntries(modules.map((m: any) => [m.name, m]));
      return names.every((n) => byName[n]?.state === "MODULE_STATE_READY") ? byName : undefined;
    },
    timeoutMs,
    `modules ${names.join(", ")} READY`,
  );
}

/** Waits until the flow is in `state` and `check` (if any) holds; returns it. */
export async function waitFlow(
  base: string,
  id: string,
  state: string,
  // deno-lint-ignore no-explicit-any
  check: (flow: any) => boolean = () => true,
  timeoutMs = 20_000,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  let last = "";
  try {
    return await waitFor(
      async () => {
        const { flow } = await ok(base, "GET", `/v1/flows/${id}`);
        last = `${flow.state}: ${flow.message}`;
        return flow.state === state && check(flow) ? flow : undefined;
      },
      timeoutMs,
      `flow ${id} ${state}`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last: ${last})`);
  }
}

/** The ids of the converter hops of a flow, in path order. */
// deno-lint-ignore no-explicit-any
export function converterIds(flow: any): string[] {
  return [
    ...new Set<string>(
      // deno-lint-ignore no-explicit-any
      flow.path.filter((h: any) => h.kind === "ENTITY_KIND_CONVERTER").map((h: any) => h.entityId),
    ),
  ];
}

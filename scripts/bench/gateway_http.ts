/** HTTP calls to an orchestrator's gateway from the benchmarks, with timeouts. */

/** The status and body of a response: JSON when it parses, else the text. */
async function reply(res: Response): Promise<{ status: number; body: unknown }> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: res.status, body };
}

/** GETs JSON from the orchestrator's gateway. */
export async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return reply(await fetch(url, { signal: AbortSignal.timeout(15_000) }));
}

/** POSTs JSON to the gateway. */
export async function postJson(
  url: string,
  payload: unknown,
): Promise<{ status: number; body: unknown }> {
  return reply(
    await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(30_000),
    }),
  );
}

/** A module as GET /v1/modules returns it. */
export interface ModuleJson {
  name: string;
  state: string;
  pid: number;
  grpcPort: number;
  restarts: number;
}

/** GET /v1/modules. */
export async function listModules(url: string): Promise<ModuleJson[]> {
  const { body } = await getJson(`${url}/v1/modules`);
  return (body as { modules: ModuleJson[] }).modules;
}

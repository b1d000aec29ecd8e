/**
 * `validate`: checks every manifest and the dependency graph, printing each problem, and
 * optionally what a running orchestrator would change on reload.
 */
import { describeProblems, type Discovered, discoverModules } from "../manifest/discover.ts";
import { graphProblems } from "../supervisor/graph.ts";
import { isEmptyPlan, planReload } from "../supervisor/reload.ts";
import { readPem } from "@callassistant/rpc";

/** How `validate --against` reaches a running orchestrator. */
export interface AgainstOptions {
  /** Its HTTP gateway, e.g. https://pi.lan:8443. */
  url: string;
  /** A file holding its bearer token (`<data>/auth-token`), when it requires one. */
  tokenFile?: string;
  /** A CA certificate (PEM) to trust for its HTTPS certificate, beyond the system's roots. */
  caFile?: string;
}

/** Lists the running modules; throws one line saying what went wrong. */
async function runningModules(
  against: AgainstOptions,
): Promise<{ name: string; manifestDigest: string }[]> {
  const headers = new Headers();
  if (against.tokenFile) {
    let token: string;
    try {
      token = (await Deno.readTextFile(against.tokenFile)).trim();
    } catch (err) {
      throw new Error(`--token-file ${against.tokenFile}: ${(err as Error).message}`);
    }
    headers.set("authorization", `Bearer ${token}`);
  }
  let client: Deno.HttpClient | undefined;
  if (against.caFile) {
    try {
      client = Deno.createHttpClient({ caCerts: [readPem(against.caFile, "certificate")] });
    } catch (err) {
      throw new Error(`--ca-file: ${(err as Error).message}`);
    }
  }
  try {
    const res = await fetch(new URL("/v1/modules", against.url), { headers, client }).catch(
      (err) => {
        // "fetch failed" alone says nothing: the cause names the refusal or the certificate.
        const cause = (err as Error).cause as Error | undefined;
        throw new Error(cause?.message ? `${err.message}: ${cause.message}` : err.message);
      },
    );
    if (res.status === 401) {
      await res.body?.cancel();
      throw new Error(
        against.tokenFile
          ? "HTTP 401: the token in --token-file is not the orchestrator's"
          : "HTTP 401: the orchestrator requires its token: add --token-file <data>/auth-token",
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    return (await res.json()).modules;
  } finally {
    client?.close();
  }
}

/** Prints the reload plan against a running orchestrator; returns false when unreachable. */
async function printPlan(against: AgainstOptions, discovered: Discovered[]): Promise<boolean> {
  const url = against.url;
  let modules: { name: string; manifestDigest: string }[];
  try {
    modules = await runningModules(against);
  } catch (err) {
    console.error(`error: --against ${url}: cannot read /v1/modules: ${(err as Error).message}`);
    return false;
  }
  const plan = planReload(new Map(modules.map((m) => [m.name, m.manifestDigest])), discovered);
  if (isEmptyPlan(plan)) console.log(`no changes against ${url}`);
  for (const name of plan.added) console.log(`would start   ${name} (new manifest)`);
  for (const name of plan.removed) console.log(`would stop    ${name} (manifest removed)`);
  for (const name of plan.changed) console.log(`would restart ${name} (manifest changed)`);
  return true;
}

/** Prints one line per module and problem; returns 1 when there is a problem. */
export async function validateCommand(
  modulesDir: string,
  against?: AgainstOptions,
): Promise<number> {
  try {
    const stat = await Deno.stat(modulesDir);
    if (!stat.isDirectory) throw new Error("not a directory");
  } catch (err) {
    console.error(`error: --modules ${modulesDir}: ${(err as Error).message}`);
    return 2;
  }
  const discovered = await discoverModules(modulesDir);
  const valid = discovered.flatMap((d) => d.ok ? [d.manifest] : []);
  const names = new Set(discovered.map((d) => d.ok ? d.manifest.name : d.name));
  const graph = graphProblems(valid, names);
  let problems = 0;
  for (const d of discovered) {
    const name = d.ok ? d.manifest.name : d.name;
    const problem = d.ok
      ? (graph.has(name) ? `${d.manifest.path}: dependencies: ${graph.get(name)}` : "")
      : describeProblems(d.problems);
    if (problem) {
      problems++;
      console.log(`FAIL ${name}: ${problem}`);
    } else console.log(`ok   ${name} (${d.ok ? d.manifest.path : ""})`);
  }
  console.log(`${discovered.length} modules, ${problems} with problems`);
  if (against && !(await printPlan(against, discovered))) return 2;
  return problems > 0 ? 1 : 0;
}

/**
 * Hot reload: watching the modules directory for manifest changes, and the diff between
 * the modules an orchestrator runs and the manifests on disk.
 */
import { type Discovered, discoveredDigest, discoveredName } from "../manifest/discover.ts";

/** What a reload would do, by module name. */
export interface ReloadPlan {
  /** New manifests: these modules start. */
  added: string[];
  /** Manifests gone: these modules stop. */
  removed: string[];
  /** Manifests edited: these modules restart (or show the new problem). */
  changed: string[];
}

/** Diffs running modules (name -> manifest digest) against a fresh scan. */
export function planReload(current: Map<string, string>, discovered: Discovered[]): ReloadPlan {
  const seen = new Set<string>();
  const plan: ReloadPlan = { added: [], removed: [], changed: [] };
  for (const d of discovered) {
    const name = discoveredName(d);
    seen.add(name);
    if (!current.has(name)) plan.added.push(name);
    else if (current.get(name) !== discoveredDigest(d)) plan.changed.push(name);
  }
  for (const name of current.keys()) if (!seen.has(name)) plan.removed.push(name);
  for (const list of Object.values(plan)) list.sort();
  return plan;
}

/** True when a plan changes nothing. */
export function isEmptyPlan(plan: ReloadPlan): boolean {
  return plan.added.length + plan.removed.length + plan.changed.length === 0;
}

/**
 * Calls `onChange` (debounced) when a module.yaml below `dir` is created, edited or
 * removed, or a directory is added, removed or renamed. Returns a function that stops.
 */
export function watchManifests(dir: string, onChange: () => void, debounceMs = 300): () => void {
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(dir, { recursive: true });
  } catch {
    return () => {};
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    try {
      for await (const event of watcher) {
        const relevant = event.paths.some((p) => {
          const base = p.split("/").pop() ?? "";
          return base === "module.yaml" ||
            (event.kind !== "modify" && event.kind !== "access" && !base.includes("."));
        });
        if (!relevant) continue;
        clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      }
    } catch {
      // The watcher was closed.
    }
  })();
  return () => {
    clearTimeout(timer);
    try {
      watcher.close();
    } catch {
      // Already closed.
    }
  };
}

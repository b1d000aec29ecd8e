/**
 * The media watchdog, on the media simulator fixture's real module processes
 * (`tests/fixtures/media-sim/main.ts`: counted frames pulled between modules, MediaStats
 * at 1 Hz):
 * - stall onset to detection (the module's "stalled" log line to the `flow.stalled` event),
 *   and detection to frames flowing again on every hop (`flow.media_recovered`), through
 *   ReestablishConnection, stall_timeout 1 s, median of N stalls of one flow;
 * - re-route time: `flow.rerouting` to frames presented on the new path, a converter
 *   module that never heals and another one;
 * - watchdog overhead: the orchestrator's CPU with 20 flows whose 3 modules report media
 *   at 1 Hz (60 reports a second, judged twice a second) against the same orchestrator
 *   and modules with no flow, and against 20 flows of modules that report no media.
 */
import { startOrchestrator } from "./bench_orchestrator.ts";
import { cpuSeconds } from "./resources.ts";
import { median } from "./stats.ts";
import { sleep, waitFor } from "../../tests/helpers/wait.ts";
import { ok, waitFlow, waitReady } from "../../tests/flows/flow_helpers.ts";
import { addSim, collectEvents, eventsOf } from "../../tests/flows/media_sim.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";

type Env = Record<string, string | number>;

async function withOrchestrator<T>(
  modules: Record<string, Env>,
  fn: (
    url: string,
    pid: number,
    lines: { at: number; msg: string; module: string }[],
  ) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ca-bench-watchdog-" });
  for (const [name, env] of Object.entries(modules)) await addSim(dir, name, env);
  const orch = await startOrchestrator({ modules: dir });
  const lines: { at: number; msg: string; module: string }[] = [];
  const stop = orch.onLog((l) =>
    lines.push({
      at: performance.timeOrigin + l.at,
      msg: String(l.line.msg ?? ""),
      module: String(l.line.module ?? ""),
    })
  );
  try {
    await waitReady(orch.url, Object.keys(modules));
    return await fn(orch.url, orch.pid, lines);
  } finally {
    stop();
    await orch.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function entity(url: string, entityType: string, id: string, module: string) {
  await ok(url, "POST", "/v1/entities", { entityType, id, module });
}

/** Stall onset -> detected -> frames again, `reps` stalls of one flow. */
function stallRecovery(reps: number) {
  return withOrchestrator({
    cam: { SIM_ROLE: "camera" },
    conv: {
      SIM_ROLE: "converter",
      SIM_STALL_AFTER_MS: 2500,
      SIM_HEAL: "reestablish",
      SIM_STALL_REPEAT: 1,
    },
    screen: { SIM_ROLE: "screen" },
  }, async (url, _pid, lines) => {
    const watch = collectEvents(url);
    try {
      await entity(url, "sim_camera", "cam1", "cam");
      await entity(url, "sim_screen", "tv", "screen");
      await ok(url, "POST", "/v1/flows", {
        id: "f",
        sourceEntityId: "cam1",
        targetEntityId: "tv",
        stallTimeout: "1s",
      });
      await waitFor(
        () => eventsOf(watch.events, "f", "flow.media_recovered").length >= reps || undefined,
        reps * 10_000 + 10_000,
        `${reps} recoveries`,
      );
      const detected = eventsOf(watch.events, "f", "flow.stalled").map((e) => Date.parse(e.time));
      // The module's own line (its stderr, relayed), not flow messages quoting it.
      const onsets = lines.filter((l) => l.module === "conv" && l.msg === "stalled (scripted)")
        .map((l) => l.at);
      const toDetect = detected.slice(0, reps).map((d, i) => d - (onsets[i] ?? NaN));
      const toFrames = eventsOf(watch.events, "f", "flow.media_recovered").slice(0, reps)
        .map((e) => Number(e.data.afterMs));
      return { toDetect, toFrames };
    } finally {
      await watch.close();
    }
  });
}

/** `flow.rerouting` -> frames presented on the new path, `reps` flows. */
function rerouteTime(reps: number) {
  return withOrchestrator({
    cam: { SIM_ROLE: "camera" },
    "conv-a": { SIM_ROLE: "converter", SIM_STALL_AFTER_MS: 500, SIM_HEAL: "never" },
    "conv-b": { SIM_ROLE: "converter" },
    screen: { SIM_ROLE: "screen" },
  }, async (url) => {
    const watch = collectEvents(url);
    const times: number[] = [];
    try {
      await entity(url, "sim_camera", "cam1", "cam");
      for (let i = 0; i < reps; i++) {
        await entity(url, "sim_screen", `tv${i}`, "screen");
        const id = `r${i}`;
        await ok(url, "POST", "/v1/flows", {
          id,
          sourceEntityId: "cam1",
          targetEntityId: `tv${i}`,
          stallTimeout: "1s",
          firstFrameTimeout: "1.5s",
        });
        await waitFor(
          () => eventsOf(watch.events, id, "flow.rerouting")[0],
          20_000,
          `${id} re-routing`,
        );
        const t0 = Date.parse(eventsOf(watch.events, id, "flow.rerouting")[0].time);
        await waitFlow(
          url,
          id,
          "FLOW_STATE_ACTIVE",
          (f) =>
            f.path.some((h: { module: string }) => h.module === "conv-b") &&
            f.health?.hops?.some((h: { side: string; state: string }) =>
              h.side === "MEDIA_SIDE_PRESENTED" && h.state === "HOP_STATE_FLOWING"
            ),
          20_000,
        );
        times.push(Date.now() - t0);
        await ok(url, "DELETE", `/v1/flows/${id}`);
      }
      return times;
    } finally {
      await watch.close();
    }
  });
}

/** Orchestrator CPU (cores) over `seconds`. */
async function cpuOver(pid: number, seconds: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
}

/** The orchestrator's CPU with no flow, then with `n` flows (media reported or not). */
function overhead(n: number, seconds: number, reportMedia: boolean) {
  const quiet: Env = reportMedia ? {} : { SIM_NO_MEDIA: 1 };
  return withOrchestrator({
    cam: { SIM_ROLE: "camera", SIM_FPS: 5, ...quiet },
    conv: { SIM_ROLE: "converter", SIM_FPS: 5, ...quiet },
    screen: { SIM_ROLE: "screen", SIM_FPS: 5, ...quiet },
  }, async (url, pid) => {
    await entity(url, "sim_camera", "cam1", "cam");
    for (let i = 0; i < n; i++) await entity(url, "sim_screen", `tv${i}`, "screen");
    await sleep(2000);
    const idle = await cpuOver(pid, seconds);
    for (let i = 0; i < n; i++) {
      await ok(url, "POST", "/v1/flows", {
        id: `w${i}`,
        sourceEntityId: "cam1",
        targetEntityId: `tv${i}`,
      });
    }
    await sleep(3000);
    const { flows } = await ok(url, "GET", "/v1/flows");
    const watched = flows.filter((f: { health?: { watched?: boolean } }) => f.health?.watched)
      .length;
    const busy = await cpuOver(pid, seconds);
    return { idle, busy, watched };
  });
}

/** Runs the watchdog benchmark. */
export async function watchdogBench(ctx: BenchContext): Promise<BenchResult[]> {
  const reps = ctx.quick ? 3 : 6;
  const seconds = ctx.quick ? 10 : 20;
  const stall = await stallRecovery(reps);
  ctx.log(
    `stall: onset->detected ${stall.toDetect.map((t) => t.toFixed(0)).join(" ")} ms; ` +
      `detected->frames ${stall.toFrames.map((t) => t.toFixed(0)).join(" ")} ms`,
  );
  const reroute = await rerouteTime(ctx.quick ? 2 : 4);
  ctx.log(`re-route -> frames: ${reroute.map((t) => t.toFixed(0)).join(" ")} ms`);
  const watched = await overhead(20, seconds, true);
  ctx.log(`watched: idle ${watched.idle.toFixed(4)}, 20 flows ${watched.busy.toFixed(4)} cores`);
  const unwatched = await overhead(20, seconds, false);
  ctx.log(
    `unwatched: idle ${unwatched.idle.toFixed(4)}, 20 flows ${unwatched.busy.toFixed(4)} cores`,
  );
  return [{
    name: "watchdog",
    title: "Media watchdog (simulated media, stall_timeout 1 s)",
    status: watched.watched === 20 ? "ok" : "failed",
    note: `media simulator modules; ${reps} stalls, ${reroute.length} re-routes; ` +
      `CPU over ${seconds} s windows; ${watched.watched} of 20 flows watched`,
    metrics: [
      metric("stall onset -> DEGRADED (stall_timeout 1 s)", median(stall.toDetect), "ms", {
        targets: [{ op: "<=", value: 2000 }],
        note: "includes the stall window itself",
      }),
      metric(
        "stall detected -> frames again (ReestablishConnection)",
        median(stall.toFrames),
        "ms",
        {
          targets: [{ op: "<=", value: 3000 }],
        },
      ),
      metric("re-route -> frames on the new path", median(reroute), "ms"),
      metric("orchestrator CPU, 20 flows reporting media at 1 Hz", watched.busy * 100, "% core", {
        baseline: "no flow",
        baselineValue: watched.idle * 100,
        digits: 2,
      }),
      metric("orchestrator CPU, 20 flows without media reports", unwatched.busy * 100, "% core", {
        baseline: "no flow",
        baselineValue: unwatched.idle * 100,
        digits: 2,
      }),
    ],
  }];
}

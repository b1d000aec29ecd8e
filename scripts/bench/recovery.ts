/**
 * Crash recovery: `kill -9` of a minimal SDK module until it is back,
 * median of N kills, for three supervisors of the same program in the same run:
 * - the orchestrator: until the module is READY again (it answered on its new port,
 *   RegisterModule and HealthCheck: stricter than "port answers");
 * - PM2 (npm) and supervisord (Debian): until a HealthCheck on its port answers again
 *   (polled every 2 ms by the benchmark).
 * All three restart at once (no delay): the module's manifest sets `restart.backoff` to 0
 * (the default backoff is 250-500 ms on a first crash, then doubles), PM2 has
 * `restart_delay: 0`, supervisord `startsecs=0`.
 */
import { freePort, portAnswers } from "../../tests/helpers/free_ports.ts";
import { DENO, isAlive, type Proc, run, spawn, trackGroup } from "../../tests/helpers/processes.ts";
import { sleep, waitFor } from "../../tests/helpers/wait.ts";
import { startOrchestrator, stateLine, waitAllReady } from "./bench_orchestrator.ts";
import { healthCheck } from "./direct_modules.ts";
import { BENCH_MODULE, modulesDir, warmCache } from "./module_dirs.ts";
import { median, percentile } from "./stats.ts";
import { pm2Path } from "./tools.ts";
import { type BenchResult, metric } from "./report.ts";
import type { BenchContext } from "./context.ts";

/** The manifest extension giving an immediate restart and no crash-loop parking. */
const NO_DELAY = `restart:\n  backoff: { initial: 0ms, max: 0ms }\n  limit: 1000\n  window: 60s\n`;

/** Polls until the module on `port` answers a HealthCheck after `pid` died; returns when. */
async function backOn(port: number, pid: number, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (isAlive(pid) && performance.now() < deadline) await sleep(1);
  while (performance.now() < deadline) {
    if (await portAnswers(port)) {
      try {
        await healthCheck(port, 1000);
        return performance.now();
      } catch {
        // Listening but not serving yet.
      }
    }
    await sleep(2);
  }
  throw new Error(`port ${port} did not answer again within ${timeoutMs} ms`);
}

/** Kills `getPid()` with SIGKILL `reps` times, measuring until `waitBack` resolves. */
async function killLoop(
  reps: number,
  getPid: () => Promise<number>,
  waitBack: (pid: number, t0: number) => Promise<number>,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const pid = await getPid();
    await sleep(300);
    const t0 = performance.now();
    Deno.kill(pid, "SIGKILL");
    const t1 = await waitBack(pid, t0);
    times.push(t1 - t0);
  }
  return times;
}

async function orchestratorRecovery(reps: number): Promise<number[]> {
  const dir = await modulesDir([{ name: "victim", extra: NO_DELAY }]);
  const orch = await startOrchestrator({ modules: dir });
  try {
    await waitAllReady(orch, 1);
    let pid = 0;
    orch.onLog((l) => {
      if (l.line.msg === "module spawned" && l.line.module === "victim") pid = Number(l.line.pid);
    });
    pid = Number(
      orch.logs.findLast((l) => l.line.msg === "module spawned" && l.line.module === "victim")
        ?.line.pid,
    );
    return await killLoop(
      reps,
      () => Promise.resolve(pid),
      async (_pid, t0) => (await orch.waitForLog(stateLine("READY", "victim"), 30_000, t0)).at,
    );
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function pm2Recovery(reps: number): Promise<number[]> {
  const home = await Deno.makeTempDir({ prefix: "ca-bench-pm2-" });
  const port = freePort();
  const env = { ...Deno.env.toObject(), PM2_HOME: home };
  const pm2 = (...args: string[]) => run(pm2Path(), args, { env });
  const eco = `${home}/ecosystem.json`;
  await Deno.writeTextFile(
    eco,
    JSON.stringify({
      apps: [{
        name: "victim",
        script: DENO,
        args: ["run", "--allow-all", BENCH_MODULE],
        interpreter: "none",
        env: { GRPC_PORT: String(port), BENCH_MODE: "minimal", MODULE_NAME: "victim" },
        autorestart: true,
        restart_delay: 0,
        max_restarts: 100_000,
        min_uptime: 0,
      }],
    }),
  );
  const pidOf = async () => {
    const pid = await waitFor(
      async () => Number((await pm2("pid", "victim")).stdout.trim()),
      30_000,
      "pm2 pid",
    );
    trackGroup(pid);
    return pid;
  };
  try {
    await pm2("start", eco);
    await waitFor(async () => (await healthCheck(port, 1000), true), 30_000, "module under pm2");
    return await killLoop(reps, pidOf, (pid) => backOn(port, pid));
  } finally {
    await run(pm2Path(), ["kill"], { env, allowFail: true });
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

async function supervisordRecovery(reps: number): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "ca-bench-supervisord-" });
  const port = freePort();
  const conf = `${dir}/supervisord.conf`;
  await Deno.writeTextFile(
    conf,
    `[unix_http_server]
file=${dir}/supervisor.sock

[supervisord]
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://${dir}/supervisor.sock

[program:victim]
command=${DENO} run --allow-all ${BENCH_MODULE}
environment=GRPC_PORT="${port}",BENCH_MODE="minimal",MODULE_NAME="victim"
autostart=true
autorestart=true
startsecs=0
startretries=100000
stopasgroup=true
killasgroup=true
stdout_logfile=${dir}/victim.log
redirect_stderr=true
`,
  );
  let proc: Proc | undefined;
  const pidOf = async () => {
    const pid = await waitFor(
      async () => {
        const r = await run("supervisorctl", ["-c", conf, "pid", "victim"], { allowFail: true });
        const n = Number(r.stdout.trim());
        return n > 0 ? n : 0;
      },
      30_000,
      "supervisord pid",
    );
    trackGroup(pid);
    return pid;
  };
  try {
    proc = spawn("supervisord", ["-n", "-c", conf]);
    await waitFor(
      async () => (await healthCheck(port, 1000), true),
      30_000,
      "module under supervisord",
    );
    return await killLoop(reps, pidOf, (pid) => backOn(port, pid));
  } finally {
    await proc?.stop(10_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs the crash-recovery benchmark. */
export async function recoveryBench(ctx: BenchContext): Promise<BenchResult[]> {
  await warmCache(BENCH_MODULE);
  const reps = ctx.quick ? 5 : 15;
  const orch = await orchestratorRecovery(reps);
  ctx.log(`orchestrator: ${orch.map((t) => t.toFixed(0)).join(" ")} ms`);
  const pm2 = await pm2Recovery(reps);
  ctx.log(`pm2: ${pm2.map((t) => t.toFixed(0)).join(" ")} ms`);
  const sup = await supervisordRecovery(reps);
  ctx.log(`supervisord: ${sup.map((t) => t.toFixed(0)).join(" ")} ms`);
  return [{
    name: "recovery",
    title: "Crash recovery",
    status: "ok",
    note: `median of ${reps} kill -9 each; orchestrator to READY, others to HealthCheck answered`,
    metrics: [
      metric("kill -9 to READY (median)", median(orch), "ms", {
        baseline: "PM2",
        baselineValue: median(pm2),
        targets: [{ op: "<=", value: 1, of: "ratio" }],
        digits: 1,
      }),
      metric("kill -9 to READY vs supervisord", median(orch), "ms", {
        baseline: "supervisord",
        baselineValue: median(sup),
        targets: [{ op: "<=", value: 1, of: "ratio" }],
        digits: 1,
      }),
      metric("kill -9 to READY (p90)", percentile(orch, 90), "ms", {
        baseline: "best of PM2/supervisord p90",
        baselineValue: Math.min(percentile(pm2, 90), percentile(sup, 90)),
        digits: 1,
      }),
      metric("PM2 kill -9 to answering (median)", median(pm2), "ms", { digits: 1 }),
      metric("supervisord kill -9 to answering (median)", median(sup), "ms", { digits: 1 }),
    ],
  }];
}

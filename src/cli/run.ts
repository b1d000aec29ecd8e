/** `run`: starts the orchestrator and stops it cleanly on SIGINT or SIGTERM. */
import { parse as parseYaml } from "yaml";
import { createLogger, type Level, type LogFormat, type Logger } from "../log/logger.ts";
import { parseLogFileFlags } from "../log/sinks.ts";
import { type Orchestrator, startOrchestrator } from "../orchestrator.ts";
import { ListenError } from "../server/grpc_server.ts";
import type { Rate } from "../event_service/event_service.ts";
import type { TlsFiles } from "@callassistant/rpc";
import { type PemKind, readPem } from "@callassistant/rpc";
import { loadOrCreateToken } from "../security/auth.ts";
import { StoreDamagedError } from "../store/store.ts";
import { parseAllowedHost, parseOrigin } from "../security/hosts.ts";
import { RestoreError } from "../store/backup.ts";
import { isLoopback, parseAddress } from "./address.ts";
import type { Flags } from "./main.ts";
import { readSeed } from "../seed/seed_file.ts";

const CONFIG_KEYS = [
  "modules",
  "data",
  "grpc",
  "http",
  "dev",
  "log-format",
  "log-level",
  "log-file-size",
  "log-files",
  "event-rate",
  "tls-cert",
  "tls-key",
  "insecure",
  "allowed-host",
  "allowed-origin",
  "seed",
];
/** Keys whose value is a list of strings (a single string is a list of one). */
const LIST_KEYS = ["allowed-host", "allowed-origin"];
/** Signals this close to the first are the same request to stop, delivered twice. */
const SIGNAL_REPEAT_MS = 1_000;

const NUMERIC_KEYS = ["log-file-size", "log-files", "event-rate"];

/** Reads a `--config` YAML file whose keys are flag names. */
async function readConfig(path: string): Promise<Flags> {
  const data = parseYaml(await Deno.readTextFile(path));
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`--config ${path}: must be a mapping of flag names to values`);
  }
  for (const [key, value] of Object.entries(data)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new Error(`--config ${path}: unknown key "${key}" (keys: ${CONFIG_KEYS.join(", ")})`);
    }
    if (LIST_KEYS.includes(key)) {
      const list = typeof value === "string" ? [value] : value;
      if (!Array.isArray(list) || list.some((v) => typeof v !== "string")) {
        throw new Error(`--config ${path}: "${key}" must be a string or a list of strings`);
      }
      (data as Record<string, unknown>)[key] = list;
      continue;
    }
    if (NUMERIC_KEYS.includes(key) && typeof value === "number") {
      (data as Record<string, unknown>)[key] = String(value);
      continue;
    }
    const boolean = key === "dev" || key === "insecure";
    if (boolean ? typeof value !== "boolean" : typeof value !== "string") {
      throw new Error(`--config ${path}: "${key}" must be a ${boolean ? "boolean" : "string"}`);
    }
  }
  return data as Flags;
}

/** Parses `--event-rate N[/B]`: N events per second, bursts of B (default 2N). */
export function parseEventRate(value: string): Rate {
  const match = /^(\d+)(?:\/(\d+))?$/.exec(value.trim());
  const perSecond = Number(match?.[1]);
  const burst = match?.[2] === undefined ? perSecond * 2 : Number(match[2]);
  if (!match || perSecond < 1 || burst < 1 || !Number.isSafeInteger(burst)) {
    throw new Error(
      `--event-rate: expected events per second and an optional burst, like 100 or 100/200, ` +
        `got "${value}"`,
    );
  }
  return { perSecond, burst };
}

/** Reads `--tls-cert` and `--tls-key` (both or neither), checking they hold PEM. */
export function readTlsFiles(
  certPath: string | undefined,
  keyPath: string | undefined,
): TlsFiles | undefined {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    throw new Error("--tls-cert and --tls-key go together: give both or neither");
  }
  const read = (flag: string, path: string, kind: PemKind) => {
    try {
      return readPem(path, kind);
    } catch (err) {
      throw new Error(`--${flag}: ${(err as Error).message}`);
    }
  };
  return {
    cert: read("tls-cert", certPath, "certificate"),
    key: read("tls-key", keyPath, "private key"),
  };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new Error(`--${flag}: expected one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** Runs until a signal; returns the exit code. */
export async function runCommand(cli: Flags): Promise<number> {
  let orchestrator: Orchestrator | undefined;
  let logger: Logger | undefined;
  // Signals are caught from the start: one arriving during startup stops right after it.
  const { promise: signalled, resolve } = Promise.withResolvers<Deno.Signal>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  let firstAt = -Infinity;
  const handler = (signal: Deno.Signal) => () => {
    const now = performance.now();
    // One Ctrl-C under `deno task` arrives twice (the terminal signals the whole process
    // group, and deno task forwards it too): only a signal a second later forces the exit.
    if (now - firstAt < SIGNAL_REPEAT_MS) return;
    if (firstAt !== -Infinity) {
      console.error("second signal: exiting now; every module process gets SIGKILL");
      orchestrator?.killModules();
      Deno.exit(130);
    }
    firstAt = now;
    resolve(signal);
  };
  for (const s of signals) Deno.addSignalListener(s, handler(s));
  try {
    const flags = { ...(cli.config ? await readConfig(cli.config) : {}), ...cli };
    const grpc = parseAddress("grpc", flags.grpc ?? "127.0.0.1:50051");
    const http = parseAddress("http", flags.http ?? "127.0.0.1:8080");
    // Beyond loopback, both listeners require the bearer token unless --insecure (SPEC §9).
    const exposed = ([["grpc", grpc], ["http", http]] as const)
      .filter(([, addr]) => !isLoopback(addr.host))
      .map(([flag, addr]) => `--${flag} ${addr.host}`);
    const format = oneOf<LogFormat>("log-format", flags["log-format"] ?? "text", ["text", "json"]);
    const level = oneOf<Level>("log-level", flags["log-level"] ?? "info", [
      "debug",
      "info",
      "warn",
      "error",
    ]);
    const eventRate = parseEventRate(flags["event-rate"] ?? "100/200");
    const tls = readTlsFiles(flags["tls-cert"], flags["tls-key"]);
    // Checked here, so a bad one is a usage error before anything starts.
    const list = (values: string[] | undefined) =>
      (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
    const allowedHosts = list(flags["allowed-host"]).map(parseAllowedHost);
    const allowedOrigins = list(flags["allowed-origin"]).map(parseOrigin);
    const modulesDir = flags.modules ?? "modules";
    const stat = await Deno.stat(modulesDir).catch(() => undefined);
    if (!stat?.isDirectory) throw new Error(`--modules ${modulesDir}: no such directory`);
    const logFiles = parseLogFileFlags(flags["log-file-size"], flags["log-files"]);
    const dataDir = flags.data ?? "data";
    const seed = flags.seed ? await readSeed(flags.seed) : undefined;
    logger = createLogger(format, level, {
      file: logFiles.files > 0
        ? { path: `${dataDir}/logs/orchestrator.log`, ...logFiles }
        : undefined,
    });
    let auth: { token: string } | undefined;
    if (exposed.length > 0 && flags.insecure) {
      logger.warn(
        "INSECURE: listening beyond this machine WITHOUT AUTHENTICATION (--insecure); " +
          "anyone who can reach the ports controls the orchestrator",
        { listeners: exposed.join(", ") },
      );
    } else if (exposed.length > 0) {
      const { token, path } = await loadOrCreateToken(dataDir, logger);
      auth = { token };
      logger.info("authentication on: both listeners require the bearer token", {
        tokenFile: await Deno.realPath(path),
        listeners: exposed.join(", "),
      });
    }
    orchestrator = await startOrchestrator({
      auth,
      modulesDir,
      dataDir,
      grpc,
      http,
      dev: flags.dev ?? false,
      logger,
      eventRate,
      tls,
      restoreBackup: flags["restore-backup"] ?? false,
      allowedHosts,
      allowedOrigins,
      seed,
    });
  } catch (err) {
    await logger?.close();
    const known = err instanceof ListenError || err instanceof Error;
    console.error(`error: ${known ? (err as Error).message : String(err)}`);
    if (err instanceof StoreDamagedError || err instanceof RestoreError) return 4;
    return err instanceof ListenError ? 3 : 2;
  }

  const signal = await signalled;
  await orchestrator!.stop(`received ${signal}`);
  await logger!.close();
  return 0;
}

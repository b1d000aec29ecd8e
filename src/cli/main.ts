/**
 * The command line: parses arguments, dispatches to `run`, `validate`, `new` or `version`, and
 * turns every usage or startup error into one clear line and a non-zero exit code.
 */
import { parseArgs } from "node:util";
import { VERSION } from "../version.ts";
import { runCommand } from "./run.ts";
import { validateCommand } from "./validate.ts";
import { NEW_HELP, newCommand } from "./new_module.ts";

const HELP: Record<string, string> = {
  main: `Call Assistant orchestrator ${VERSION}

Usage: call-assistant [run] [flags]     run the orchestrator (the default)
       call-assistant validate [flags]  check module manifests and exit
       call-assistant new module NAME --lang ts|python
                                        write a working module folder
       call-assistant version           print the version

Run "call-assistant <command> --help" for the flags of a command.`,
  run: `Usage: call-assistant run [flags]

Flags:
  --modules DIR        modules directory, scanned for module.yaml (default: modules)
  --data DIR           data directory for state, logs and module data (default: data)
  --grpc HOST:PORT     gRPC listener (default: 127.0.0.1:50051)
  --http HOST:PORT     HTTP/JSON gateway listener (default: 127.0.0.1:8080)
  --dev                run each module's dev_command, set CALL_ASSISTANT_DEV=1
  --log-format FORMAT  text or json (default: text)
  --log-level LEVEL    debug, info, warn or error (default: info)
  --log-file-size SIZE rotate <data>/logs/orchestrator.log (JSON lines, module output
                       included) at this size: bytes, or with K, M, G (KiB, MiB, GiB)
                       (default: 10M)
  --log-files N        rotated log files kept, orchestrator.log.1 to .N; 0 writes no
                       log file (default: 5). When stderr is the systemd journal
                       the default is 0 and lines carry <N> level prefixes
  --event-rate N[/B]   events each module may report per second, in bursts of up to B
                       (default: 100/200; B defaults to 2N); beyond it reports are
                       refused with RESOURCE_EXHAUSTED. The "module event" log lines
                       stay at 100/s per module whatever the rate.
  --tls-cert FILE      certificate chain (PEM): both listeners serve TLS, HTTPS and
                       gRPC over TLS (needs --tls-key)
  --tls-key FILE       its private key (PEM)
  --config FILE        YAML file with any of these flags as keys (flags win)
  --seed FILE          YAML file of entities and flows to create in a fresh data
                       directory, once (recorded in <data>/seed-applied.json)
  --insecure           no authentication on non-loopback addresses (by default, when
                       either listener is not loopback, both require the bearer token
                       of <data>/auth-token, created with mode 0600 on first run)
  --allowed-host NAME  a host name clients may address the listeners by (HTTP Host,
                       gRPC :authority), besides loopback names and the listen
                       addresses; repeat for more (DNS rebinding protection)
  --allowed-origin ORIGIN
                       a web page origin (https://host:port) allowed to send changes to
                       the HTTP API and read its answers (CORS); repeat for more
  --restore-backup     before starting, put the newest good backup of the database
                       (<data>/callassistant.db.backup.1 to .3) in its place; the file
                       that was there is kept as callassistant.db.damaged-<time>
  -h, --help           show this help`,
  validate: `Usage: call-assistant validate [flags]

Checks every module.yaml under the modules directory: syntax, fields, dependencies.
Prints one line per problem; exits 1 when there is any. With --against, also prints what
a running orchestrator would start, stop or restart if it reloaded now.

Flags:
  --modules DIR      modules directory (default: modules)
  --against URL      a running orchestrator's HTTP gateway, e.g. http://127.0.0.1:8080
  --token-file FILE  with --against: its bearer token (<data>/auth-token), when it
                     requires one
  --ca-file FILE     with --against: a CA certificate (PEM) to trust for its HTTPS
  -h, --help         show this help`,
  new: NEW_HELP,
  version: `Usage: call-assistant version

Prints the orchestrator version and the Deno version it runs on.`,
};

/** Flags of every command, for node:util's parseArgs. */
const OPTIONS = {
  modules: { type: "string" },
  data: { type: "string" },
  grpc: { type: "string" },
  http: { type: "string" },
  dev: { type: "boolean" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  "log-file-size": { type: "string" },
  "log-files": { type: "string" },
  "event-rate": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  config: { type: "string" },
  seed: { type: "string" },
  insecure: { type: "boolean" },
  "restore-backup": { type: "boolean" },
  "allowed-host": { type: "string", multiple: true },
  "allowed-origin": { type: "string", multiple: true },
  against: { type: "string" },
  "token-file": { type: "string" },
  "ca-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const ALLOWED: Record<string, Set<string>> = {
  run: new Set(
    Object.keys(OPTIONS).filter((k) => !["against", "token-file", "ca-file"].includes(k)),
  ),
  validate: new Set(["modules", "against", "token-file", "ca-file", "help"]),
  version: new Set(["help"]),
};

/** Parsed flags (the repeatable ones as lists). */
export type Flags = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[]
    : (typeof OPTIONS)[K]["type"] extends "string" ? string
    : boolean;
};

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let command = "run";
  let rest = args;
  if (args[0] && !args[0].startsWith("-")) {
    command = args[0];
    rest = args.slice(1);
  }
  // `new` takes positional arguments and flags of its own.
  if (command === "new") return await newCommand(rest);
  if (!(command in ALLOWED)) {
    console.error(
      `error: unknown command "${command}" (commands: run, validate, new, version; see --help)`,
    );
    return 2;
  }
  let flags: Flags;
  try {
    const parsed = parseArgs({
      args: rest,
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    });
    flags = parsed.values as Flags;
    const wrong = Object.keys(flags).find((k) => !ALLOWED[command].has(k));
    if (wrong) throw new Error(`option "--${wrong}" is not valid for "${command}"`);
  } catch (err) {
    const message = (err as Error).message.split("\n")[0].replace(
      /^Unknown option/,
      "unknown option",
    );
    console.error(`error: ${message} (see "${command} --help")`);
    return 2;
  }
  if (flags.help) {
    console.log(args.length === 1 && args[0].startsWith("-") ? HELP.main : HELP[command]);
    return 0;
  }
  switch (command) {
    case "version":
      console.log(`call-assistant ${VERSION} (deno ${Deno.version.deno})`);
      return 0;
    case "validate":
      if (!flags.against && (flags["token-file"] || flags["ca-file"])) {
        console.error("error: --token-file and --ca-file go with --against (see validate --help)");
        return 2;
      }
      return await validateCommand(
        flags.modules ?? "modules",
        flags.against
          ? { url: flags.against, tokenFile: flags["token-file"], caFile: flags["ca-file"] }
          : undefined,
      );
    default:
      return await runCommand(flags);
  }
}

/**
 * The flags of `run` and `validate`, in one table: parsing (node:util's parseArgs), the
 * "Flags:" part of `--help`, the keys a `--config` file may hold, and the defaults all
 * come from it. Adding a flag is one entry here plus its use in `run.ts` or
 * `validate.ts`.
 */
import { parse as parseYaml } from "yaml";

/** A command that takes flags from the table. */
export type FlagCommand = "run" | "validate";

/** One flag. */
interface FlagSpec {
  /** The flag's name, without "--". */
  readonly name: string;
  /** A string, a switch, or a repeatable string (a list). */
  readonly kind: "string" | "boolean" | "list";
  /** The value's placeholder in `--help`, e.g. "DIR". */
  readonly arg?: string;
  /** What it does, one paragraph (wrapped by `--help`). */
  readonly help: string;
  /** The value when the flag is not given (shown in `--help`). */
  readonly default?: string;
  readonly commands: readonly FlagCommand[];
  /**
   * Whether a `--config` file may set it; "number" also takes a YAML number (read as its
   * text).
   */
  readonly config?: "yes" | "number";
  readonly short?: string;
}

/** Every flag, in `--help` order. */
export const FLAGS = [
  {
    name: "modules",
    kind: "string",
    arg: "DIR",
    help: "modules directory, scanned for module.yaml",
    default: "modules",
    commands: ["run", "validate"],
    config: "yes",
  },
  {
    name: "data",
    kind: "string",
    arg: "DIR",
    help: "data directory for state, logs and module data",
    default: "data",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "grpc",
    kind: "string",
    arg: "HOST:PORT",
    help: "gRPC listener",
    default: "127.0.0.1:50051",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "http",
    kind: "string",
    arg: "HOST:PORT",
    help: "HTTP/JSON gateway listener",
    default: "127.0.0.1:8080",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "dev",
    kind: "boolean",
    help: "run each module's dev_command, set CALL_ASSISTANT_DEV=1",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "log-format",
    kind: "string",
    arg: "FORMAT",
    help: "text or json",
    default: "text",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "log-level",
    kind: "string",
    arg: "LEVEL",
    help: "debug, info, warn or error",
    default: "info",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "log-file-size",
    kind: "string",
    arg: "SIZE",
    help: "rotate <data>/logs/orchestrator.log (JSON lines, module output included) at " +
      "this size: bytes, or with K, M, G (KiB, MiB, GiB)",
    default: "10M",
    commands: ["run"],
    config: "number",
  },
  {
    name: "log-files",
    kind: "string",
    arg: "N",
    help:
      "rotated log files kept, orchestrator.log.1 to .N; 0 writes no log file. When stderr is the systemd journal the default is 0 and lines carry <N> level prefixes",
    default: "5",
    commands: ["run"],
    config: "number",
  },
  {
    name: "event-rate",
    kind: "string",
    arg: "N[/B]",
    help: "events each module may report per second, in bursts of up to B (B defaults to " +
      '2N); beyond it reports are refused with RESOURCE_EXHAUSTED. The "module event" ' +
      "log lines stay at 100/s per module whatever the rate.",
    default: "100/200",
    commands: ["run"],
    config: "number",
  },
  {
    name: "tls-cert",
    kind: "string",
    arg: "FILE",
    help: "certificate chain (PEM): both listeners serve TLS, HTTPS and gRPC over TLS " +
      "(needs --tls-key)",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "tls-key",
    kind: "string",
    arg: "FILE",
    help: "its private key (PEM)",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "config",
    kind: "string",
    arg: "FILE",
    help: "YAML file with any of these flags as keys (flags win)",
    commands: ["run"],
  },
  {
    name: "seed",
    kind: "string",
    arg: "FILE",
    help: "YAML file of entities and flows to create in a fresh data directory, once " +
      "(recorded in <data>/seed-applied.json)",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "insecure",
    kind: "boolean",
    help: "no authentication on non-loopback addresses (by default, when either listener " +
      "is not loopback, both require the bearer token of <data>/auth-token, created with " +
      "mode 0600 on first run)",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "allowed-host",
    kind: "list",
    arg: "NAME",
    help: "a host name clients may address the listeners by (HTTP Host, gRPC :authority), " +
      "besides loopback names and the listen addresses; repeat for more (DNS rebinding " +
      "protection)",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "allowed-origin",
    kind: "list",
    arg: "ORIGIN",
    help: "a web page origin (https://host:port) allowed to send changes to the HTTP API " +
      "and read its answers (CORS); repeat for more",
    commands: ["run"],
    config: "yes",
  },
  {
    name: "restore-backup",
    kind: "boolean",
    help: "before starting, put the newest good backup of the database " +
      "(<data>/callassistant.db.backup.1 to .3) in its place; the file that was there is " +
      "kept as callassistant.db.damaged-<time>",
    commands: ["run"],
  },
  {
    name: "against",
    kind: "string",
    arg: "URL",
    help: "a running orchestrator's HTTP gateway, e.g. http://127.0.0.1:8080",
    commands: ["validate"],
  },
  {
    name: "token-file",
    kind: "string",
    arg: "FILE",
    help: "with --against: its bearer token (<data>/auth-token), when it requires one",
    commands: ["validate"],
  },
  {
    name: "ca-file",
    kind: "string",
    arg: "FILE",
    help: "with --against: a CA certificate (PEM) to trust for its HTTPS",
    commands: ["validate"],
  },
  {
    name: "help",
    kind: "boolean",
    help: "show this help",
    commands: ["run", "validate"],
    short: "h",
  },
] as const satisfies readonly FlagSpec[];

type Spec = (typeof FLAGS)[number];
type ValueOf<S extends Spec> = S["kind"] extends "list" ? string[]
  : S["kind"] extends "string" ? string
  : boolean;

/** Parsed flags (the repeatable ones as lists). */
export type Flags = { [S in Spec as S["name"]]?: ValueOf<S> };

/** The name of a flag. */
export type FlagName = Spec["name"];

/** The options of node:util's parseArgs for every flag. */
export const PARSE_OPTIONS = Object.fromEntries(
  FLAGS.map((f: FlagSpec) => [
    f.name,
    {
      type: f.kind === "boolean" ? "boolean" : "string",
      ...(f.kind === "list" ? { multiple: true } : {}),
      ...(f.short ? { short: f.short } : {}),
    },
  ]),
) as Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

/** True when `name` is a flag of `command`. */
export function flagOf(command: FlagCommand, name: string): boolean {
  return FLAGS.some((f: FlagSpec) => f.name === name && f.commands.includes(command));
}

/** The default of a flag that has one. */
export function flagDefault(name: FlagName): string {
  const spec: FlagSpec | undefined = FLAGS.find((f) => f.name === name);
  if (spec?.default === undefined) throw new Error(`flag --${name} has no default`);
  return spec.default;
}

/** Help lines are wrapped to this width. */
const WIDTH = 88;
/** Flag columns at most this wide share their line with the help text. */
const FLAG_COLUMN = 20;

/** Wraps `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The "Flags:" lines of a command's `--help`. */
export function flagHelp(command: FlagCommand): string {
  const specs: FlagSpec[] = FLAGS.filter((f: FlagSpec) => f.commands.includes(command));
  const left = (f: FlagSpec) =>
    `${f.short ? `-${f.short}, ` : ""}--${f.name}${f.arg ? ` ${f.arg}` : ""}`;
  const column = 2 + Math.max(...specs.map((f) => left(f).length).filter((n) => n <= FLAG_COLUMN)) +
    2;
  const out: string[] = [];
  for (const f of specs) {
    const text = f.default === undefined ? f.help : `${f.help} (default: ${f.default})`;
    const lines = wrap(text, WIDTH - column);
    const head = `  ${left(f)}`;
    if (head.length + 1 < column) out.push(head.padEnd(column) + lines.shift());
    else out.push(head);
    for (const l of lines) out.push(" ".repeat(column) + l);
  }
  return out.join("\n");
}

/** Reads a `--config` YAML file whose keys are flag names. */
export async function readConfig(path: string): Promise<Flags> {
  const data = parseYaml(await Deno.readTextFile(path));
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`--config ${path}: must be a mapping of flag names to values`);
  }
  const keys: FlagSpec[] = FLAGS.filter((f: FlagSpec) => f.config !== undefined);
  for (const [key, value] of Object.entries(data)) {
    const spec = keys.find((f) => f.name === key);
    if (!spec) {
      throw new Error(
        `--config ${path}: unknown key "${key}" (keys: ${keys.map((f) => f.name).join(", ")})`,
      );
    }
    if (spec.kind === "list") {
      const list = typeof value === "string" ? [value] : value;
      if (!Array.isArray(list) || list.some((v) => typeof v !== "string")) {
        throw new Error(`--config ${path}: "${key}" must be a string or a list of strings`);
      }
      (data as Record<string, unknown>)[key] = list;
      continue;
    }
    if (spec.config === "number" && typeof value === "number") {
      (data as Record<string, unknown>)[key] = String(value);
      continue;
    }
    const boolean = spec.kind === "boolean";
    if (boolean ? typeof value !== "boolean" : typeof value !== "string") {
      throw new Error(`--config ${path}: "${key}" must be a ${boolean ? "boolean" : "string"}`);
    }
  }
  return data as Flags;
}

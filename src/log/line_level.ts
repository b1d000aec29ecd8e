/**
 * The level of a line a module wrote, by the module log convention (documented on
 * `ModuleService` in `proto/callassistant/v1/module.proto`): a leading level word followed by
 * a space or a colon (`DEBUG`, `TRACE`, `INFO`, `NOTICE`, `WARN`, `WARNING`, `ERROR`,
 * `CRITICAL`, `FATAL`, any case; the colon form is Python's default `WARNING:root:...`), a
 * JSON object with a `level` field (a name as above, or a pino/bunyan number: 10 trace ... 60
 * fatal), or an sd-daemon `<N>` prefix (syslog priority 0-7). Anything else is INFO, on
 * standard output and standard error alike: the stream says nothing about the level.
 */
import { Severity } from "@callassistant/protocol";

const NAMES: Record<string, Severity> = {
  trace: Severity.DEBUG,
  debug: Severity.DEBUG,
  info: Severity.INFO,
  notice: Severity.INFO,
  warn: Severity.WARNING,
  warning: Severity.WARNING,
  error: Severity.ERROR,
  err: Severity.ERROR,
  critical: Severity.CRITICAL,
  crit: Severity.CRITICAL,
  fatal: Severity.CRITICAL,
  alert: Severity.CRITICAL,
  emerg: Severity.CRITICAL,
  panic: Severity.CRITICAL,
};

/** syslog priorities 0 (emerg) to 7 (debug), as sd-daemon(3) prefixes them. */
const PRIORITIES: Severity[] = [
  Severity.CRITICAL,
  Severity.CRITICAL,
  Severity.CRITICAL,
  Severity.ERROR,
  Severity.WARNING,
  Severity.INFO,
  Severity.INFO,
  Severity.DEBUG,
];

// The words a line may start with; `err`, `crit`, `emerg`, `alert` and `panic` only count
// inside JSON and after `<N>`, so prose such as "Alert sent" or "err..." stays INFO.
const LEADING = /^(trace|debug|info|notice|warn|warning|error|critical|fatal)(?:[ \t:]|$)/i;
const PRIORITY = /^<([0-7])>/;

/** The level of a pino/bunyan numeric level (10 trace, 20 debug, 30 info, 40 warn...). */
function numericLevel(n: number): Severity | undefined {
  if (!Number.isFinite(n)) return undefined;
  if (n >= 60) return Severity.CRITICAL;
  if (n >= 50) return Severity.ERROR;
  if (n >= 40) return Severity.WARNING;
  if (n >= 30) return Severity.INFO;
  if (n >= 10) return Severity.DEBUG;
  return undefined;
}

function jsonLevel(line: string): Severity | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
  const level = (value as Record<string, unknown>).level;
  if (typeof level === "string") return NAMES[level.trim().toLowerCase()];
  if (typeof level === "number") return numericLevel(level);
  return undefined;
}

/** The severity of one module output line (INFO when it carries none). */
export function lineLevel(line: string): Severity {
  const priority = PRIORITY.exec(line);
  if (priority) return PRIORITIES[Number(priority[1])];
  const word = LEADING.exec(line);
  if (word) return NAMES[word[1].toLowerCase()];
  const start = line.trimStart();
  if (start.startsWith("{")) return jsonLevel(start) ?? Severity.INFO;
  return Severity.INFO;
}

/** The orchestrator log level a module line is echoed at. */
export function echoLevel(severity: Severity): "debug" | "info" | "warn" | "error" {
  switch (severity) {
    case Severity.DEBUG:
      return "debug";
    case Severity.WARNING:
      return "warn";
    case Severity.ERROR:
    case Severity.CRITICAL:
      return "error";
    default:
      return "info";
  }
}

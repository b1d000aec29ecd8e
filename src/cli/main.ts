/**
 * The command line: parses arguments, dispatches to `run`, `validate`, `new` or `version`, and
 * turns every usage or startup error into one clear line and a non-zero exit code.
 */
import { parseArgs } from "node:util";
import { VERSION } from "../version.ts";
import { runCommand } from "./run.ts";
import { validateCommand } from "./validate.ts";
import { NEW_HELP, newCommand } from "./new_module.ts";
import {
  type FlagCommand,
  flagDefault,
  flagHelp,
  flagOf,
  type Flags,
  PARSE_OPTIONS,
} from "./flags.ts";

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
${flagHelp("run")}`,
  validate: `Usage: call-assistant validate [flags]

Checks every module.yaml under the modules directory: syntax, fields, dependencies.
Prints one line per problem; exits 1 when there is any. With --against, also prints what
a running orchestrator would start, stop or restart if it reloaded now.

Flags:
${flagHelp("validate")}`,
  new: NEW_HELP,
  version: `Usage: call-assistant version

Prints the orchestrator version and the Deno version it runs on.`,
};

/** The commands that take flags, and `version` (which takes only --help). */
const COMMANDS = ["run", "validate", "version"];

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
  if (!COMMANDS.includes(command)) {
    console.error(
      `error: unknown command "${command}" (commands: run, validate, new, version; see --help)`,
    );
    return 2;
  }
  let flags: Flags;
  try {
    const parsed = parseArgs({
      args: rest,
      options: PARSE_OPTIONS,
      strict: true,
      allowPositionals: false,
    });
    flags = parsed.values as Flags;
    const allowed = (k: string) =>
      command === "version" ? k === "help" : flagOf(command as FlagCommand, k);
    const wrong = Object.keys(flags).find((k) => !allowed(k));
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
        flags.modules ?? flagDefault("modules"),
        flags.against
          ? { url: flags.against, tokenFile: flags["token-file"], caFile: flags["ca-file"] }
          : undefined,
      );
    default:
      return await runCommand(flags);
  }
}

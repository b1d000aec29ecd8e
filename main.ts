/**
 * The Call Assistant orchestrator command line: `run` (the default), `validate`,
 * `version`. Run `main.ts --help` for the flags.
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));

/** The orchestrator version, from deno.json (embedded in the module graph). */
import denoJson from "../deno.json" with { type: "json" };

/** The version string, e.g. "0.1.0". */
export const VERSION: string = denoJson.version;

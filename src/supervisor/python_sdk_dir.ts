/**
 * Where Python modules find the SDK (`import callassistant`): the orchestrator appends the
 * directory holding the `callassistant` package to every module's PYTHONPATH, so a Python
 * module needs no install. Run from source, that is this repository's `packages/sdk-python`.
 * A compiled binary carries the SDK's files (`src/gen/python_sdk.ts`, text imports) and
 * writes them once into `<data>/sdk-python/<digest>/`, a directory named by their content.
 */
import { fileURLToPath } from "node:url";
import { PYTHON_SDK_FILES } from "../gen/python_sdk.ts";

/** `packages/sdk-python/` of the source tree this file belongs to. */
const SOURCE_DIR = fileURLToPath(new URL("../../packages/sdk-python/", import.meta.url));

/** True when the orchestrator runs from source with `deno`, not as a compiled binary. */
function fromSource(): boolean {
  return /(^|\/)deno$/.test(Deno.execPath());
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A short hex digest of the SDK's files (names and contents). */
async function digest(files: ReadonlyArray<readonly [string, string]>): Promise<string> {
  const text = files.map(([path, body]) => `${path}\0${body}\0`).join("");
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(hash).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Writes `files` into `<dataDir>/sdk-python/<digest>/` unless that directory exists
 * (written whole into a temporary directory, then renamed), removes older versions, and
 * returns the directory.
 */
export async function installPythonSdk(
  dataDir: string,
  files: ReadonlyArray<readonly [string, string]> = PYTHON_SDK_FILES,
): Promise<string> {
  const base = `${dataDir}/sdk-python`;
  const dir = `${base}/${await digest(files)}`;
  if (!isFile(`${dir}/callassistant/__init__.py`)) {
    await Deno.mkdir(base, { recursive: true });
    const tmp = await Deno.makeTempDir({ dir: base, prefix: ".tmp-" });
    try {
      for (const [path, body] of files) {
        const file = `${tmp}/${path}`;
        await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(file, body);
      }
      await Deno.rename(tmp, dir);
    } catch (err) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      // Another orchestrator on the same data directory wrote it first.
      if (!isFile(`${dir}/callassistant/__init__.py`)) throw err;
    }
  }
  for await (const entry of Deno.readDir(base)) {
    if (`${base}/${entry.name}` !== dir && !entry.name.startsWith(".tmp-")) {
      await Deno.remove(`${base}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
  return dir;
}

/**
 * The directory to put on Python modules' PYTHONPATH: the source tree's
 * `packages/sdk-python` when running from source, else the copy `installPythonSdk` writes.
 */
export async function pythonSdkDir(dataDir: string): Promise<string> {
  if (fromSource() && isFile(`${SOURCE_DIR}callassistant/__init__.py`)) {
    return SOURCE_DIR.replace(/\/$/, "");
  }
  return await installPythonSdk(dataDir);
}

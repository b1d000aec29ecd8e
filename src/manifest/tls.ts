/** The `tls` block of a remote module's manifest: checks at parse time, reads at connect. */
import { isAbsolute, join } from "node:path";

/** TLS towards a remote module: absolute paths of PEM files, and the name to verify. */
export interface ModuleTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** The name the module's certificate must carry. */
  serverName: string;
}

/** The PEM contents of a {@link ModuleTls}, read when connecting. */
export interface ModuleTlsFiles {
  ca?: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
  serverName: string;
}

const PEM = {
  ca: [/-----BEGIN CERTIFICATE-----/, "certificate"],
  cert: [/-----BEGIN CERTIFICATE-----/, "certificate"],
  key: [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key"],
} as const;

/** Reads one PEM file, or explains in one line why it cannot be used. */
function readPem(path: string, field: keyof typeof PEM): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new Error(`cannot read ${path}: ${reason}`);
  }
  const [pattern, what] = PEM[field];
  if (!pattern.test(new TextDecoder().decode(bytes))) {
    throw new Error(`${path} is not a PEM ${what}`);
  }
  return bytes;
}

/**
 * Checks a manifest's `tls` block (already schema-valid) against its `address`; returns
 * the block with absolute paths, or problems as [field, message] pairs.
 */
export function parseModuleTls(
  tls: Record<string, string> | undefined,
  address: string | undefined,
  dir: string,
): { tls?: ModuleTls; problems: [string, string][] } {
  if (tls === undefined) return { problems: [] };
  if (!address) {
    return {
      problems: [["tls", "applies to remote modules only: add address, or remove tls"]],
    };
  }
  const problems: [string, string][] = [];
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    problems.push([tls.cert === undefined ? "tls.cert" : "tls.key", "cert and key go together"]);
  }
  const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  const isIp = /^[0-9.]+$/.test(host) || host.includes(":");
  if (isIp && tls.server_name === undefined) {
    problems.push([
      "tls.server_name",
      `required when address is an IP address (${host}): the name in the module's certificate`,
    ]);
  }
  const paths: Partial<Record<keyof typeof PEM, string>> = {};
  for (const field of ["ca", "cert", "key"] as const) {
    if (tls[field] === undefined) continue;
    const path = isAbsolute(tls[field]) ? tls[field] : join(dir, tls[field]);
    try {
      readPem(path, field);
      paths[field] = path;
    } catch (err) {
      problems.push([`tls.${field}`, (err as Error).message]);
    }
  }
  if (problems.length > 0) return { problems };
  return { tls: { ...paths, serverName: tls.server_name ?? host }, problems };
}

/** Reads the PEM files of `tls` (throws one line naming the file when one is unusable). */
export function readModuleTls(tls: ModuleTls): ModuleTlsFiles {
  return {
    ca: tls.ca ? readPem(tls.ca, "ca") : undefined,
    cert: tls.cert ? readPem(tls.cert, "cert") : undefined,
    key: tls.key ? readPem(tls.key, "key") : undefined,
    serverName: tls.serverName,
  };
}

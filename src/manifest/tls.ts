/** The `tls` block of a remote module's manifest: checks at parse time, reads at connect. */
import { isAbsolute, join } from "node:path";
import { readPem } from "@callassistant/rpc";

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
  ca?: string;
  cert?: string;
  key?: string;
  serverName: string;
}

const KIND = { ca: "certificate", cert: "certificate", key: "private key" } as const;

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
  const paths: Partial<Record<keyof typeof KIND, string>> = {};
  for (const field of ["ca", "cert", "key"] as const) {
    if (tls[field] === undefined) continue;
    const path = isAbsolute(tls[field]) ? tls[field] : join(dir, tls[field]);
    try {
      readPem(path, KIND[field]);
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
    ca: tls.ca ? readPem(tls.ca, KIND.ca) : undefined,
    cert: tls.cert ? readPem(tls.cert, KIND.cert) : undefined,
    key: tls.key ? readPem(tls.key, KIND.key) : undefined,
    serverName: tls.serverName,
  };
}

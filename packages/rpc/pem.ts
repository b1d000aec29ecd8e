/** Reading PEM files, with one-line errors that say what is wrong. */

/** A certificate chain and its private key, PEM. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** What a PEM file should hold. */
export type PemKind = "certificate" | "private key";

const PATTERN: Record<PemKind, RegExp> = {
  "certificate": /-----BEGIN CERTIFICATE-----/,
  "private key": /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
};

/**
 * Reads the PEM file at `path`; throws "cannot read PATH: no such file" (or permission
 * denied) or "PATH is not a PEM certificate" (or private key).
 */
export function readPem(path: string, kind: PemKind): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new Error(`cannot read ${path}: ${reason}`);
  }
  if (!PATTERN[kind].test(text)) throw new Error(`${path} is not a PEM ${kind}`);
  return text;
}

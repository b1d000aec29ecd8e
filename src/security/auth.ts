/**
 * The control API's bearer token: generated on first run (32 random bytes, hex)
 * in `<data>/auth-token` with mode 0600, and the helpers the listeners use to check it in
 * constant time, from an `Authorization: Bearer` header or the dashboard's session cookie.
 */
import { createHmac } from "node:crypto";
import type { Logger } from "../log/logger.ts";

/** The token file's name inside the data directory. */
export const TOKEN_FILE = "auth-token";

/** The name of the dashboard's session cookie. */
export const SESSION_COOKIE = "ca_session";

/** Thrown when the token file cannot be used; the message is one clear line. */
export class TokenFileError extends Error {}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh token: 32 random bytes as 64 hex digits. */
export function generateToken(): string {
  return hex(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Reads the token of `<dataDir>/auth-token`, creating the file (mode 0600) with a new token
 * when it does not exist. Permissions open to group or others are fixed to 0600 with a
 * warning. Throws
 * TokenFileError when the file is unreadable or empty.
 */
export async function loadOrCreateToken(
  dataDir: string,
  logger?: Logger,
): Promise<{ token: string; path: string }> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = `${dataDir}/${TOKEN_FILE}`;
  try {
    await Deno.writeTextFile(path, `${generateToken()}\n`, { mode: 0o600, createNew: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) {
      throw new TokenFileError(`cannot create the auth token file ${path}: ${oneLine(err)}`);
    }
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    throw new TokenFileError(`cannot read the auth token file ${path}: ${oneLine(err)}`);
  }
  if (!info.isFile) throw new TokenFileError(`the auth token file ${path} is not a regular file`);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new TokenFileError(`cannot read the auth token file ${path}: ${oneLine(err)}`);
  }
  const token = text.trim();
  if (token === "") {
    throw new TokenFileError(
      `the auth token file ${path} is empty (delete it to have a new token generated)`,
    );
  }
  if (/\s/.test(token)) {
    throw new TokenFileError(`the auth token file ${path} must hold one token on one line`);
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    const was = (info.mode & 0o777).toString(8).padStart(4, "0");
    try {
      await Deno.chmod(path, 0o600);
    } catch (err) {
      throw new TokenFileError(
        `the auth token file ${path} has mode ${was} and cannot be made 0600: ${oneLine(err)}`,
      );
    }
    logger?.warn("auth token file had loose permissions; changed them to 0600", {
      file: path,
      was,
    });
  }
  return { token, path };
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0];
}

const encoder = new TextEncoder();

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  // Compare against itself when lengths differ, so the work is the same.
  const other = x.length === y.length ? y : x;
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ other[i];
  return diff === 0;
}

/** The token of an `Authorization: Bearer <token>` value, or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}

/** The value of cookie `name` in a `Cookie` header, or undefined. */
export function cookieValue(header: string | null | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Checks credentials against the token; build one with {@link createAuthenticator}. */
export interface Authenticator {
  /** True when `given` is the token (constant time). */
  checkToken(given: string | undefined): boolean;
  /** The session cookie's value: an HMAC of the token, never the token itself. */
  readonly sessionValue: string;
  /** True when `given` is the session cookie's value (constant time). */
  checkSession(given: string | undefined): boolean;
  /**
   * Checks `Authorization: Bearer` and the session cookie: "ok" when either is right,
   * "missing" when neither is given, "invalid" otherwise.
   */
  checkHeaders(headers: Headers): "ok" | "missing" | "invalid";
}

/** An authenticator for `token`. */
export function createAuthenticator(token: string): Authenticator {
  const sessionValue = createHmac("sha256", token).update("call-assistant session v1").digest(
    "hex",
  );
  const checkToken = (given: string | undefined) =>
    given !== undefined && constantTimeEqual(given, token);
  const checkSession = (given: string | undefined) =>
    given !== undefined && constantTimeEqual(given, sessionValue);
  return {
    checkToken,
    sessionValue,
    checkSession,
    checkHeaders(headers) {
      const authorization = headers.get("authorization");
      const cookie = cookieValue(headers.get("cookie"), SESSION_COOKIE);
      const bearerOk = authorization !== null && checkToken(bearerToken(authorization));
      const cookieOk = cookie !== undefined && checkSession(cookie);
      if (bearerOk || cookieOk) return "ok";
      return authorization === null && cookie === undefined ? "missing" : "invalid";
    },
  };
}

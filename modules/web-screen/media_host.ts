/**
 * Where the web-screen module serves its pages, from the environment every media module
 * reads (README "Media addresses"):
 *
 *   CA_MEDIA_HOST         the host written in URLs (default 127.0.0.1). Set it to the
 *                         machine's LAN address or name so a TV can open the pages.
 *   CA_MEDIA_BIND         the address to listen on (default: 127.0.0.1 when the host is a
 *                         loopback one, else 0.0.0.0, every interface)
 *   CA_SCREEN_HTTP_PORT   the port (default 8090, for a stable TV bookmark; when 8090 is
 *                         taken a free port is used and logged; 0 always picks a free one)
 */

/** The module's HTTP address settings. */
export interface MediaAddress {
  host: string;
  bind: string;
  port: number;
  /** True when the port is the default, so another may be used when it is taken. */
  fallback: boolean;
}

/** The default page port. */
export const DEFAULT_SCREEN_PORT = 8090;

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** Reads the settings; throws naming the variable when one is malformed. */
export function readMediaAddress(get: (name: string) => string | undefined): MediaAddress {
  const host = get("CA_MEDIA_HOST")?.trim() || "127.0.0.1";
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
    throw new Error(`CA_MEDIA_HOST: expected an IP address or host name, got "${host}"`);
  }
  const bind = get("CA_MEDIA_BIND")?.trim() || (isLoopback(host) ? "127.0.0.1" : "0.0.0.0");
  const raw = get("CA_SCREEN_HTTP_PORT")?.trim() ?? "";
  const port = raw === "" ? DEFAULT_SCREEN_PORT : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`CA_SCREEN_HTTP_PORT: expected a port number (0 for any), got "${raw}"`);
  }
  return { host, bind, port, fallback: raw === "" };
}

/** "http://host:port", with brackets around an IPv6 host. */
export function httpBase(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

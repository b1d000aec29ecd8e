/**
 * Which `Host` names and `Origin`s the listeners accept, against DNS rebinding and
 * cross-site requests from web pages. A request's Host (gRPC `:authority`) must
 * be a loopback name, an address the orchestrator listens on (any IP address when it
 * listens on a wildcard address), or a name allowed with `--allowed-host`: a page whose
 * name was rebound to this machine sends its own name and is refused. A state-changing
 * request carrying an `Origin` must come from the same origin (the dashboard) or one
 * allowed with `--allowed-origin`.
 */
import { isIP } from "node:net";

/** What the operator allows beyond the defaults. */
export interface HostPolicyOptions {
  /** Host names accepted in Host / `:authority` (`--allowed-host`). */
  allowedHosts?: readonly string[];
  /** Origins allowed to send state-changing requests (`--allowed-origin`), e.g. "https://ha.lan:8123". */
  allowedOrigins?: readonly string[];
}

/** The host name of a Host header or `:authority` ("name", "name:port", "[v6]:port"). */
export function hostnameOf(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith("[")) {
    name = name.slice(1, name.indexOf("]") > 0 ? name.indexOf("]") : undefined);
  } else if (/^[^:]*:\d*$/.test(name)) name = name.slice(0, name.indexOf(":"));
  return name.replace(/\.$/, "");
}

/** True for names and addresses that always mean this machine. */
export function isLoopbackName(name: string): boolean {
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  if (isIP(name) === 6) {
    return name === "::1" || /^(0:){7}1$/.test(name) || /^::ffff:127\./.test(name);
  }
  return false;
}

/**
 * Normalizes an `--allowed-origin` value to its origin ("scheme://host[:port]"); throws
 * a one-line error for anything else.
 */
export function parseOrigin(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // Reported below.
  }
  if (
    !url || !["http:", "https:"].includes(url.protocol) || url.pathname !== "/" || url.search ||
    url.hash || url.username || !/^[a-z]+:\/\/[^/]+\/?$/i.test(value)
  ) {
    throw new Error(
      `--allowed-origin: expected an origin such as https://dash.example:8443 (scheme, host ` +
        `and port only), got "${value}"`,
    );
  }
  return url.origin;
}

/** Normalizes an `--allowed-host` value to a host name; throws a one-line error otherwise. */
export function parseAllowedHost(value: string): string {
  const name = hostnameOf(value);
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(name) && isIP(name) === 0) {
    throw new Error(
      `--allowed-host: expected a host name such as ca.home.arpa (or an IP address), got "${value}"`,
    );
  }
  return name;
}

/** The hosts and origins one orchestrator accepts. */
export class HostPolicy {
  readonly #hosts: Set<string>;
  readonly #listenHosts = new Set<string>();
  #anyAddress = false;
  /** The allowed origins, normalized. */
  readonly allowedOrigins: readonly string[];

  constructor(options: HostPolicyOptions = {}) {
    this.#hosts = new Set((options.allowedHosts ?? []).map(parseAllowedHost));
    this.allowedOrigins = (options.allowedOrigins ?? []).map(parseOrigin);
  }

  /** Adds the host of an address the orchestrator listens on (a wildcard admits any IP). */
  addListenHost(host: string): void {
    const name = hostnameOf(host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
    if (name === "0.0.0.0" || name === "::") this.#anyAddress = true;
    else this.#listenHosts.add(name);
  }

  /** Why a request with this Host / `:authority` is refused; undefined when it is allowed. */
  hostProblem(host: string | undefined): string | undefined {
    const name = hostnameOf(host ?? "");
    if (
      isLoopbackName(name) || this.#listenHosts.has(name) || this.#hosts.has(name) ||
      (this.#anyAddress && isIP(name) !== 0)
    ) {
      return undefined;
    }
    return `host "${name}" is not allowed: use a loopback name or an address the ` +
      `orchestrator listens on, or allow the name with --allowed-host ${name || "NAME"}`;
  }

  /**
   * Why a state-changing request from page `origin` to `host` is refused; undefined when
   * it comes from the same origin or an allowed one.
   */
  originProblem(origin: string, host: string, secure: boolean): string | undefined {
    if (this.allowedOrigins.includes(origin.toLowerCase())) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      // A malformed origin is foreign.
    }
    if (url && url.origin !== "null") {
      const defaultPort = secure ? "443" : "80";
      const [name, port] = [hostnameOf(host), /:(\d+)$/.exec(host)?.[1] ?? defaultPort];
      const originPort = url.port || (url.protocol === "https:" ? "443" : "80");
      if (hostnameOf(url.host) === name && originPort === port) return undefined;
    }
    return `origin "${origin}" is not allowed to change anything here: only this ` +
      `orchestrator's own pages may, and the origins named with --allowed-origin`;
  }
}

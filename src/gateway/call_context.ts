/** The CallContext the gateway gives a handler for one HTTP request. */
import type { CallContext, TraceContext } from "@callassistant/rpc";

/** The peer of a request in gRPC's form (`ipv4:127.0.0.1:5000`), from Deno's `remoteAddr`. */
function peerOf(env: unknown): string {
  const addr = (env as { remoteAddr?: { hostname?: unknown; port?: unknown } } | undefined)
    ?.remoteAddr;
  if (typeof addr?.hostname !== "string") return "unknown";
  return addr.hostname.includes(":")
    ? `ipv6:[${addr.hostname}]:${addr.port}`
    : `ipv4:${addr.hostname}:${addr.port}`;
}

/**
 * The CallContext of one gateway call. The request headers' copy, the abort signal, the
 * peer and the response headers are made when a handler first asks for them.
 */
export class GatewayCallContext implements CallContext {
  #headers?: Headers;
  #abort?: AbortController;
  #peer?: string;
  #responseHeaders?: Headers;
  readonly #request: Request;
  readonly #env: unknown;

  /** A context for `request`, served with Hono's `env` (which holds the peer address). */
  constructor(request: Request, env: unknown, readonly trace: TraceContext | undefined) {
    this.#request = request;
    this.#env = env;
  }

  /** A copy of the request headers. */
  get headers(): Headers {
    return this.#headers ??= new Headers(this.#request.headers);
  }

  /** Aborted when the client goes away. */
  get signal(): AbortSignal {
    return (this.#abort ??= new AbortController()).signal;
  }

  /** The client's address. */
  get peer(): string {
    return this.#peer ??= peerOf(this.#env);
  }

  /** Headers the handler adds to the response. */
  get responseHeaders(): Headers {
    return this.#responseHeaders ??= new Headers();
  }

  /** The response headers, if the handler asked for them. */
  get responseHeadersIfUsed(): Headers | undefined {
    return this.#responseHeaders;
  }

  /** Aborts the signal: the client went away. */
  abort(reason: unknown): void {
    (this.#abort ??= new AbortController()).abort(reason);
  }
}

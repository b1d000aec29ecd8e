/**
 * A deadline for request bodies: a client that sends its headers and then its body too
 * slowly, or not at all (a half-sent request), gets 408 and its connection is closed
 * (through `c.env.closeConnection`, when the listener offers it) instead of holding a
 * handler, and the connection, forever. The body is read here, with
 * the deadline, and kept by Hono for the handler (`c.req.text()` returns the same text).
 * `hono/timeout` is not used: it bounds the whole request, streams and slow handlers too.
 */
import type { MiddlewareHandler } from "hono";
import { Code } from "@callassistant/rpc";

const NO_BODY = new Set(["GET", "HEAD", "OPTIONS"]);

class BodyTimeout extends Error {}

/** The middleware: bodies must arrive within `timeoutMs`. */
export function bodyDeadline(timeoutMs: number): MiddlewareHandler {
  return async (c, next) => {
    if (NO_BODY.has(c.req.method) || c.req.raw.body === null) return await next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        c.req.text(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BodyTimeout()), timeoutMs);
        }),
      ]);
    } catch (err) {
      if (!(err instanceof BodyTimeout)) throw err;
      // The listener closes the connection once the answer is out (see http_listener.ts).
      (c.env as { closeConnection?: () => void } | undefined)?.closeConnection?.();
      const message = `the request body did not arrive within ${timeoutMs / 1000} s`;
      return new Response(
        JSON.stringify({ code: Code.DEADLINE_EXCEEDED, message, details: [] }),
        { status: 408, headers: { "content-type": "application/json", connection: "close" } },
      );
    } finally {
      clearTimeout(timer);
    }
    await next();
  };
}

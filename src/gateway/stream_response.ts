/**
 * The HTTP response of a server-streaming RPC: NDJSON (one JSON item a line, an error as
 * `{"error": {...}}`), or Server-Sent Events (`id:` from the item's `event.id` or
 * `entry.sequence`, an error as `event: error`, keep-alive comments).
 *
 * Hono's `streamSSE` is not used: it pushes from a loop of its own, while this stream is
 * pulled (the handler's iterator advances only as fast as the client reads), serves NDJSON
 * and SSE alike, and the first item was already awaited by the caller so an early error
 * got its own HTTP status.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/** The content type of NDJSON streams. */
export const NDJSON_TYPE = "application/x-ndjson";
/** The content type of Server-Sent Events. */
export const SSE_TYPE = "text/event-stream";

/** What {@link streamResponse} streams, and how. */
export interface StreamSource {
  /** The handler's items. */
  readonly iterator: AsyncIterator<unknown>;
  /** The first `iterator.next()`, already started. */
  readonly first: Promise<IteratorResult<unknown>>;
  /** An item as JSON. */
  readonly encode: (item: unknown) => JsonValue;
  /** The error body of a failure (reporting internal errors). */
  readonly errorBody: (err: unknown) => JsonObject;
  /** Server-Sent Events rather than NDJSON. */
  readonly sse: boolean;
  /** Interval of SSE keep-alive comments in ms; 0 for none. */
  readonly keepAliveMs: number;
  /** Called when the client goes away before the end. */
  readonly onClientGone: () => void;
  /** Headers the handler set, sent too. */
  readonly headers?: Headers;
}

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The SSE `id:` of an item: its `event.id` or `entry.sequence`, when present. */
function sseId(json: JsonValue): string | undefined {
  if (!isJsonObject(json)) return undefined;
  for (const [outer, inner] of [["event", "id"], ["entry", "sequence"]]) {
    const o = json[outer];
    if (isJsonObject(o)) {
      const v = o[inner];
      if (typeof v === "string" || typeof v === "number") return String(v);
    }
  }
  return undefined;
}

/** The 200 response streaming `source`. */
export function streamResponse(source: StreamSource): Response {
  const { iterator, sse } = source;
  const encoder = new TextEncoder();
  const frame = (json: JsonValue): Uint8Array => {
    if (!sse) return encoder.encode(`${JSON.stringify(json)}\n`);
    const id = sseId(json);
    return encoder.encode(
      `${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(json)}\n\n`,
    );
  };
  const errorFrame = (err: unknown): Uint8Array => {
    const body = source.errorBody(err);
    return encoder.encode(
      sse
        ? `event: error\ndata: ${JSON.stringify(body)}\n\n`
        : `${JSON.stringify({ error: body })}\n`,
    );
  };
  let pending: Promise<IteratorResult<unknown>> | undefined = source.first;
  let finished = false;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const finish = () => {
    finished = true;
    clearInterval(keepAlive);
  };

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (sse && source.keepAliveMs > 0) {
        keepAlive = setInterval(() => {
          if (!finished) controller.enqueue(encoder.encode(": keep-alive\n\n"));
        }, source.keepAliveMs);
      }
    },
    async pull(controller) {
      try {
        const next = pending ?? iterator.next();
        pending = undefined;
        const result = await next;
        if (finished) return;
        if (result.done) {
          finish();
          controller.close();
          return;
        }
        controller.enqueue(frame(source.encode(result.value)));
      } catch (err) {
        if (finished) return;
        finish();
        controller.enqueue(errorFrame(err));
        controller.close();
      }
    },
    cancel() {
      if (finished) return;
      finish();
      source.onClientGone();
      try {
        iterator.return?.().catch(() => {});
      } catch {
        // The handler's iterator could not be closed; its signal is aborted anyway.
      }
    },
  });

  const headers = new Headers(source.headers);
  headers.set("content-type", sse ? `${SSE_TYPE}; charset=utf-8` : NDJSON_TYPE);
  headers.set("cache-control", "no-cache");
  if (sse) headers.set("x-accel-buffering", "no");
  return new Response(stream, { status: 200, headers });
}

/**
 * Optional OpenTelemetry spans through Deno's built-in OpenTelemetry support.
 *
 * Run with `OTEL_DENO=true` (and the usual `OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`) and Deno registers an OTLP
 * exporter behind `npm:@opentelemetry/api`; the gateway, the gRPC server adapter and the
 * gRPC clients then create server and client spans whose ids are the ones sent in
 * `traceparent`, so exported traces and event/log trace ids agree. Without it, spans are
 * plain W3C ids generated here and nothing is exported.
 */
import { childOf, type TraceContext } from "./trace_context.ts";

function readEnabled(): boolean {
  try {
    return /^(1|true)$/i.test(Deno.env.get("OTEL_DENO") ?? "");
  } catch {
    return false;
  }
}

const ENABLED = readEnabled();
// Loaded only when on: the package costs about 40 ms of start-up (CommonJS, many files),
// which every module built with the SDK would pay too.
const api = ENABLED ? await import("@opentelemetry/api") : undefined;
const tracer = api?.trace.getTracer("callassistant");

/** A span in progress: its ids, and `end` with the outcome. */
export interface ActiveSpan {
  readonly trace: TraceContext;
  /** Ends the span; `error` marks it failed (gRPC code and message). */
  end(error?: { code: number; message: string }): void;
}

/**
 * The span Deno's own instrumentation (e.g. of `Deno.serve`) has made current, if
 * OpenTelemetry is on and it records.
 */
export function activeOtelTrace(): TraceContext | undefined {
  if (!api) return undefined;
  const span = api.trace.getSpan(api.context.active());
  if (!span?.isRecording()) return undefined;
  const sc = span.spanContext();
  return { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags };
}

/** Starts a server or client span as a child of `parent` (or of a new trace). */
export function startSpan(
  name: string,
  kind: "server" | "client",
  parent: TraceContext | undefined,
  attributes: Record<string, string | number> = {},
): ActiveSpan {
  if (!api || !tracer) return { trace: childOf(parent), end() {} };
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode } = api;
  const parentContext = parent
    ? api.trace.setSpanContext(ROOT_CONTEXT, {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: parent.flags,
      isRemote: true,
    })
    : ROOT_CONTEXT;
  const span = tracer.startSpan(
    name,
    { kind: kind === "server" ? SpanKind.SERVER : SpanKind.CLIENT, attributes },
    parentContext,
  );
  if (!span.isRecording()) return { trace: childOf(parent), end() {} };
  const sc = span.spanContext();
  return {
    trace: { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags },
    end(error) {
      if (error) {
        span.setAttribute("rpc.grpc.status_code", error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      }
      span.end();
    },
  };
}

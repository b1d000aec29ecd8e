/** The standard grpc.health.v1.Health service: SERVING for the server and each service. */
import type { Health } from "@callassistant/protocol/grpc/health/v1";
import { HealthCheckResponse_ServingStatus as Status } from "@callassistant/protocol/grpc/health/v1";
import type { ServiceImpl } from "@callassistant/rpc";
import { Code, RpcError } from "@callassistant/rpc";

/** Health handlers for a server hosting `services` (full names). */
export function healthService(services: string[]): ServiceImpl<typeof Health> {
  const known = new Set(["", ...services]);
  const statusOf = (service: string) => {
    if (!known.has(service)) throw new RpcError(Code.NOT_FOUND, `unknown service "${service}"`);
    return Status.SERVING;
  };
  return {
    check(req) {
      return { status: statusOf(req.service) };
    },
    async *watch(req, ctx) {
      yield { status: known.has(req.service) ? Status.SERVING : Status.SERVICE_UNKNOWN };
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    },
  };
}

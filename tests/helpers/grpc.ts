/** gRPC helpers for tests. */
import * as grpc from "@grpc/grpc-js";

/** Binds `server` to a free port on 127.0.0.1 without TLS; resolves with "127.0.0.1:port". */
export async function bindLoopback(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (err, p) => err ? reject(err) : resolve(p),
    )
  );
  return `127.0.0.1:${port}`;
}

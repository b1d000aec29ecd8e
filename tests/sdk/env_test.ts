/** The module environment as the SDK reads it: defaults, and one clear error per mistake. */
import assert from "node:assert/strict";
import { ModuleEnvError, readModuleEnv } from "../../packages/sdk-ts/env.ts";

Deno.test("sdk env: defaults to 127.0.0.1 and plaintext; GRPC_HOST and TLS files are read", () => {
  const plain = readModuleEnv({ GRPC_PORT: "50100" });
  assert.equal(plain.grpcPort, 50100);
  assert.equal(plain.grpcHost, "127.0.0.1");
  assert.equal(plain.tlsCert, "");
  assert.equal(plain.tlsKey, "");
  assert.equal(plain.tokenFromStdin, false);
  assert.equal(readModuleEnv({ GRPC_PORT: "50100", MODULE_TOKEN_STDIN: "1" }).tokenFromStdin, true);
  const tls = readModuleEnv({
    GRPC_PORT: "50100",
    GRPC_HOST: "0.0.0.0",
    GRPC_TLS_CERT: "/etc/m/cert.pem",
    GRPC_TLS_KEY: "/etc/m/key.pem",
  });
  assert.deepEqual([tls.grpcHost, tls.tlsCert, tls.tlsKey], [
    "0.0.0.0",
    "/etc/m/cert.pem",
    "/etc/m/key.pem",
  ]);
});

Deno.test("sdk env: a missing port, half of the TLS pair or a client CA is one clear error", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /GRPC_PORT is not set/],
    [{ GRPC_PORT: "http" }, /GRPC_PORT="http" is not a port number/],
    [{ GRPC_PORT: "50100", GRPC_TLS_CERT: "/c.pem" }, /GRPC_TLS_CERT and GRPC_TLS_KEY go together/],
    [{ GRPC_PORT: "50100", GRPC_TLS_KEY: "/k.pem" }, /GRPC_TLS_CERT and GRPC_TLS_KEY go together/],
    [
      { GRPC_PORT: "50100", GRPC_TLS_CERT: "/c", GRPC_TLS_KEY: "/k", GRPC_TLS_CLIENT_CA: "/ca" },
      /GRPC_TLS_CLIENT_CA is not supported by the TypeScript SDK/,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => readModuleEnv(env), (err: Error) => {
      assert.ok(err instanceof ModuleEnvError);
      assert.match(err.message, message);
      return true;
    });
  }
});

/**
 * TLS on both listeners (--tls-cert, --tls-key) with certificates made by openssl: HTTPS
 * and gRPC over TLS answer clients that trust the CA; plaintext and untrusting clients are
 * refused without harming the orchestrator; modules keep working; bad flags are one line.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "@callassistant/protocol";
import { ModuleState } from "@callassistant/protocol";
import { createClient } from "@callassistant/rpc";
import { Code, type RpcError } from "@callassistant/rpc";
import { addCamera, ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { makeTestPki } from "../helpers/test_pki.ts";

Deno.test("tls: HTTPS and gRPC over TLS for clients that trust the CA; others refused", async () => {
  const pki = await makeTestPki();
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({
    modules: dir,
    args: ["--tls-cert", pki.serverCert, "--tls-key", pki.serverKey],
  });
  const https = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(pki.ca)] });
  const ca = Buffer.from(await Deno.readFile(pki.ca));
  const grpcPort = orch.grpcAddress.split(":").at(-1);
  try {
    assert.match(orch.url, /^https:\/\//);
    // The module is READY and its event stream reached the orchestrator (on loopback, plaintext,
    // behind the terminator).
    await waitFor(
      async () => {
        const res = await fetch(`${orch.url}/v1/modules/test-camera`, { client: https });
        const { module } = await res.json();
        return module.state === "MODULE_STATE_READY";
      },
      30_000,
      "camera READY over HTTPS",
    );
    const up = await fetch(`${orch.url}/v1/events?afterId=0&types=module.event_channel_up`, {
      client: https,
      headers: { accept: "application/x-ndjson" },
    });
    const reader = up.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    await reader.cancel();
    assert.equal(JSON.parse(value!.split("\n")[0]).event.module, "test-camera");

    // Plain HTTP to the HTTPS port, and HTTPS without trusting the CA, fail.
    await assert.rejects(fetch(orch.url.replace("https:", "http:") + "/healthz"));
    await assert.rejects(fetch(`${orch.url}/healthz`));

    // gRPC over TLS with the CA: the control API answers.
    const control = createClient(ControlService, `localhost:${grpcPort}`, {
      credentials: grpc.credentials.createSsl(ca),
    });
    try {
      const { modules } = await control.listModules({});
      assert.deepEqual(modules.map((m) => [m.name, m.state]), [["test-camera", ModuleState.READY]]);
    } finally {
      control.close();
    }

    // Plaintext gRPC and TLS with another CA: UNAVAILABLE, and nothing else breaks.
    for (
      const credentials of [
        grpc.credentials.createInsecure(),
        grpc.credentials.createSsl(Buffer.from(await Deno.readFile(pki.otherCa))),
      ]
    ) {
      const refused = createClient(ControlService, `localhost:${grpcPort}`, { credentials });
      try {
        await assert.rejects(
          refused.listModules({}, { timeoutMs: 3_000 }),
          (err: RpcError) => err.code === Code.UNAVAILABLE || err.code === Code.DEADLINE_EXCEEDED,
        );
      } finally {
        refused.close();
      }
    }
    const again = createClient(ControlService, `localhost:${grpcPort}`, {
      credentials: grpc.credentials.createSsl(ca),
    });
    try {
      assert.equal((await again.getSystemStatus({})).moduleCount, 1);
    } finally {
      again.close();
    }
    const health = await fetch(`${orch.url}/healthz`, { client: https });
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    https.close();
    const status = await orch.stop();
    assert.equal(status.code, 0);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}main.ts`, "run", "--modules", `${ROOT}modules`, ...args],
    stdin: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
}

Deno.test("tls: a missing half, an unreadable file, non-PEM or a key that does not match is one line", async () => {
  const pki = await makeTestPki();
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const listen = ["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", data];
  try {
    const cases: [string[], number, RegExp][] = [
      [["--tls-cert", pki.serverCert], 2, /--tls-cert and --tls-key go together/],
      [["--tls-key", pki.serverKey], 2, /--tls-cert and --tls-key go together/],
      [
        ["--tls-cert", `${pki.dir}/nope.crt`, "--tls-key", pki.serverKey],
        2,
        /--tls-cert: cannot read .*nope\.crt: no such file/,
      ],
      [
        ["--tls-cert", pki.serverCert, "--tls-key", pki.serverCert],
        2,
        /--tls-key: .*server\.crt is not a PEM private key/,
      ],
      [
        ["--tls-cert", pki.serverKey, "--tls-key", pki.serverKey],
        2,
        /--tls-cert: .*server\.key is not a PEM certificate/,
      ],
      [
        ["--tls-cert", pki.serverCert, "--tls-key", pki.clientKey],
        3,
        /the certificate and the key do not match/,
      ],
    ];
    for (const [flags, code, message] of cases) {
      const r = await cli(...listen, ...flags);
      assert.equal(r.code, code, `${flags.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, message);
    }
  } finally {
    await Deno.remove(data, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("tls: validate --against an HTTPS orchestrator that requires its token", async () => {
  const pki = await makeTestPki();
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const data = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const orch = await startOrchestrator({
    modules: dir,
    data,
    args: ["--http", "0.0.0.0:0", "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey],
  });
  const validate = async (...flags: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${ROOT}main.ts`, "validate", "--modules", dir, ...flags],
      stdin: "null",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  };
  try {
    const url = orch.url;
    const wrongToken = `${pki.dir}/wrong-token`;
    await Deno.writeTextFile(wrongToken, "0".repeat(64));
    const cases: [string[], RegExp][] = [
      [["--against", url], /cannot read \/v1\/modules: .*certificate/i],
      [["--against", url, "--ca-file", pki.ca], /requires its token: add --token-file/],
      [
        ["--against", url, "--ca-file", pki.ca, "--token-file", wrongToken],
        /the token in --token-file is not the orchestrator's/,
      ],
      [["--against", url, "--ca-file", pki.serverKey], /--ca-file: .* is not a PEM certificate/],
      [["--token-file", `${data}/auth-token`], /go with --against/],
    ];
    for (const [flags, message] of cases) {
      const r = await validate(...flags);
      assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const ok = await validate(
      "--against",
      url,
      "--ca-file",
      pki.ca,
      "--token-file",
      `${data}/auth-token`,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /no changes against https:\/\//);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(data, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

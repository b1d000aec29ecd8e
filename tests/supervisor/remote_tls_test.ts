/**
 * A remote module over mutual TLS: the Python cast-screen example serves gRPC with TLS
 * and requires client certificates (certificates made by openssl). The orchestrator
 * reaches it with the manifest's `tls` block; manifests without a client certificate,
 * with the wrong CA or without TLS never get it READY, and say why.
 */
import assert from "node:assert/strict";
import { addModule, ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { freePort } from "../helpers/free_ports.ts";
import { makeTestPki } from "../helpers/test_pki.ts";

type ModuleView = { name: string; state: string; lastError: string };

async function modules(url: string): Promise<Record<string, ModuleView>> {
  const { modules } = await (await fetch(`${url}/v1/modules`)).json();
  return Object.fromEntries(modules.map((m: ModuleView) => [m.name, m]));
}

Deno.test("remote module over mutual TLS: READY with the right certificates only", async () => {
  const pki = await makeTestPki();
  const port = freePort();
  const moduleData = await Deno.makeTempDir({ prefix: "ca-test-data-" });
  const screen = new Deno.Command("/usr/bin/python3", {
    args: [`${ROOT}modules/cast-screen/cast_screen.py`],
    env: {
      PYTHONPATH: `${ROOT}packages/sdk-python`,
      GRPC_PORT: String(port),
      GRPC_TLS_CERT: pki.serverCert,
      GRPC_TLS_KEY: pki.serverKey,
      GRPC_TLS_CLIENT_CA: pki.ca,
      MODULE_DATA_DIR: moduleData,
      MODULE_NAME: "screen",
    },
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const screenLog: string[] = [];
  const reading = screen.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void screenLog.push(chunk) }),
  );
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const remote = (tls: string) =>
    `address: "127.0.0.1:${port}"\n${tls}` +
    `restart: { backoff: { initial: 200ms, max: 500ms } }\nstart_timeout: 3s\n`;
  await addModule(
    dir,
    "screen",
    remote(
      `tls:\n  ca: ${pki.ca}\n  cert: ${pki.clientCert}\n  key: ${pki.clientKey}\n  server_name: localhost\n`,
    ),
  );
  await addModule(
    dir,
    "no-client-cert",
    remote(`tls:\n  ca: ${pki.ca}\n  server_name: localhost\n`),
  );
  await addModule(
    dir,
    "wrong-ca",
    remote(
      `tls:\n  ca: ${pki.otherCa}\n  cert: ${pki.clientCert}\n  key: ${pki.clientKey}\n  server_name: localhost\n`,
    ),
  );
  await addModule(dir, "plaintext", remote(""));
  try {
    await waitFor(() => screenLog.join("").includes("(TLS)"), 30_000, "cast-screen listening");
    const orch = await startOrchestrator({ modules: dir });
    try {
      await waitFor(async () => (await modules(orch.url)).screen.state === "MODULE_STATE_READY");
      // Calls beyond registration work over mutual TLS: the module's entities are listed.
      const entities = await waitFor(
        async () => {
          const { entities } = await (await fetch(`${orch.url}/v1/entities`)).json();
          return entities.find((e: { module: string }) => e.module === "screen");
        },
        20_000,
        "the screen's discovered entity",
      );
      assert.equal(entities.entityType, "cast_screen");
      // The others were refused at the handshake and keep being retried, with the reason.
      const refused = await waitFor(
        async () => {
          const all = await modules(orch.url);
          const others = ["no-client-cert", "wrong-ca", "plaintext"].map((n) => all[n]);
          return others.every((m) => m.lastError) ? others : undefined;
        },
        30_000,
        "the refused modules' errors",
      );
      for (const m of refused) {
        assert.notEqual(m.state, "MODULE_STATE_READY", m.name);
        assert.match(m.lastError, /start failed: No connection established/, m.lastError);
      }
      assert.match(refused[1].lastError, /self-signed certificate/, "the wrong CA is named");
      assert.equal((await modules(orch.url)).screen.state, "MODULE_STATE_READY");
    } finally {
      await orch.stop();
    }
  } finally {
    screen.kill("SIGTERM");
    await screen.status;
    await reading.catch(() => {});
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(moduleData, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("remote SDK module over TLS: GRPC_HOST, GRPC_TLS_CERT and GRPC_TLS_KEY; plaintext refused", async () => {
  const pki = await makeTestPki();
  const port = freePort();
  const remote = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}tests/fixtures/behave.ts`],
    env: {
      GRPC_PORT: String(port),
      GRPC_HOST: "127.0.0.1",
      GRPC_TLS_CERT: pki.serverCert,
      GRPC_TLS_KEY: pki.serverKey,
      MODULE_NAME: "sdk-remote",
      BEHAVE: "ok",
    },
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const remoteLog: string[] = [];
  const reading = remote.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void remoteLog.push(chunk) }),
  );
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  const manifest = (tls: string) =>
    `address: "127.0.0.1:${port}"\n${tls}restart: { backoff: { initial: 200ms, max: 500ms } }\n`;
  await addModule(dir, "sdk-remote", manifest(`tls:\n  ca: ${pki.ca}\n  server_name: localhost\n`));
  await addModule(dir, "sdk-plaintext", manifest(""));
  try {
    await waitFor(
      () => remoteLog.join("").includes(`listening on 127.0.0.1:${port} (TLS)`),
      30_000,
      "the SDK module listening with TLS",
    );
    const orch = await startOrchestrator({ modules: dir });
    try {
      await waitFor(async () =>
        (await modules(orch.url))["sdk-remote"].state === "MODULE_STATE_READY"
      );
      const plaintext = await waitFor(
        async () => {
          const m = (await modules(orch.url))["sdk-plaintext"];
          return m.lastError ? m : undefined;
        },
        30_000,
        "the plaintext manifest's error",
      );
      assert.notEqual(plaintext.state, "MODULE_STATE_READY");
      assert.match(plaintext.lastError, /start failed/);
    } finally {
      await orch.stop();
    }
  } finally {
    remote.kill("SIGTERM");
    await remote.status;
    await reading.catch(() => {});
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(pki.dir, { recursive: true });
  }
});

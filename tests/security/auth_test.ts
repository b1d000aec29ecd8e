/**
 * Listener security with the real orchestrator: beyond loopback both listeners
 * require the bearer token of `<data>/auth-token` (created 0600 on first run, reused after),
 * the dashboard signs in with a session cookie, health/reflection and the dashboard's files
 * stay open, and `--insecure` turns authentication off.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { ConfigService } from "@callassistant/protocol";
import { ControlService } from "@callassistant/protocol";
import { ModuleState } from "@callassistant/protocol";
import { Health, HealthCheckResponse_ServingStatus } from "@callassistant/protocol/grpc/health/v1";
import { Code, type RpcError } from "@callassistant/rpc";
import { createClient } from "@callassistant/rpc";
import { addCamera, ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";

async function emptyModules(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "ca-test-modules-" });
}

async function tempData(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "ca-test-data-" });
}

function listening(logs: Record<string, unknown>[]): Record<string, unknown> {
  return logs.find((l) => l.msg === "orchestrator listening")!;
}

async function assert401(res: Response, message: RegExp): Promise<void> {
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), "Bearer");
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.equal(body.code, 16);
  assert.deepEqual(body.details, []);
  assert.match(body.message, message);
}

async function rejectsUnauthenticated(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: RpcError) => {
    assert.equal(err.code, Code.UNAUTHENTICATED, `${Code[err.code]}: ${err.message}`);
    return true;
  });
}

Deno.test("security: token file 0600, reused across restarts; HTTP needs the token", async () => {
  const modules = await emptyModules();
  const data = await tempData();
  let token = "";
  try {
    const orch = await startOrchestrator({ modules, data, args: ["--http", "0.0.0.0:0"] });
    try {
      // The extra --http overrides the helper's loopback one.
      assert.match(String(listening(orch.logs).http), /^0\.0\.0\.0:\d+$/);
      const info = Deno.statSync(`${data}/auth-token`);
      assert.equal(info.mode! & 0o777, 0o600);
      token = Deno.readTextFileSync(`${data}/auth-token`).trim();
      assert.match(token, /^[0-9a-f]{64}$/);
      const on = orch.logs.find((l) => String(l.msg).startsWith("authentication on"));
      assert.ok(on, "an info line says authentication is on");
      assert.equal(on.level, "info");
      assert.equal(on.tokenFile, Deno.realPathSync(`${data}/auth-token`));
      assert.ok(!orch.logs.some((l) => JSON.stringify(l).includes(token)), "token never logged");

      await assert401(await fetch(`${orch.url}/v1/modules`), /authentication required/);
      await assert401(
        await fetch(`${orch.url}/v1/modules`, { headers: { authorization: "Bearer nope" } }),
        /invalid credentials/,
      );
      await assert401(
        await fetch(`${orch.url}/v1/modules`, { headers: { authorization: `Basic ${token}` } }),
        /invalid credentials/,
      );
      const ok = await fetch(`${orch.url}/v1/modules`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual((await ok.json()).modules, []);
      for (const path of ["/metrics", "/openapi.json", "/v1/status"]) {
        await assert401(await fetch(`${orch.url}${path}`), /authentication required/);
        const res = await fetch(`${orch.url}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.status, 200, path);
        await res.body?.cancel();
      }
      // Open without credentials: health, readiness and the dashboard's files.
      const healthz = await fetch(`${orch.url}/healthz`);
      assert.equal(healthz.status, 200);
      assert.deepEqual(await healthz.json(), { status: "ok" });
      const readyz = await fetch(`${orch.url}/readyz`);
      assert.notEqual(readyz.status, 401);
      await readyz.body?.cancel();
      const page = await fetch(`${orch.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Call Assistant<\/title>/);
      const js = await fetch(`${orch.url}/ui/connection_ui.js`);
      assert.equal(js.status, 200);
      assert.match(await js.text(), /Enter the access token/);
      // Unknown /ui/ files are not served to anonymous callers either way (404, not data).
      const missing = await fetch(`${orch.url}/ui/nope.js`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    } finally {
      assert.equal((await orch.stop()).code, 0);
    }

    // A restart reuses the same token.
    const again = await startOrchestrator({ modules, data, args: ["--http", "0.0.0.0:0"] });
    try {
      assert.equal(Deno.readTextFileSync(`${data}/auth-token`).trim(), token);
      const res = await fetch(`${again.url}/v1/modules`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await again.stop();
    }
  } finally {
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("security: loose token file permissions are fixed; an empty file fails in one line", async () => {
  const modules = await emptyModules();
  const data = await tempData();
  try {
    Deno.writeTextFileSync(`${data}/auth-token`, "my-own-token\n");
    Deno.chmodSync(`${data}/auth-token`, 0o644);
    const orch = await startOrchestrator({ modules, data, args: ["--grpc", "0.0.0.0:0"] });
    try {
      assert.equal(Deno.statSync(`${data}/auth-token`).mode! & 0o777, 0o600);
      const warning = orch.logs.find((l) => /loose permissions/.test(String(l.msg)));
      assert.ok(warning, "a warning about the permissions");
      assert.equal(warning.level, "warn");
      assert.equal(warning.was, "0644");
      const res = await fetch(`${orch.url}/v1/modules`, {
        headers: { authorization: "Bearer my-own-token" },
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await orch.stop();
    }

    Deno.writeTextFileSync(`${data}/auth-token`, "  \n");
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}main.ts`,
        "run",
        "--modules",
        modules,
        "--data",
        data,
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "0.0.0.0:0",
        "--log-format",
        "json",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 2);
    const errors = new TextDecoder().decode(r.stderr).split("\n").filter((l) =>
      l.startsWith("error:")
    );
    assert.equal(errors.length, 1, new TextDecoder().decode(r.stderr));
    assert.match(errors[0], /auth token file .*auth-token is empty/);
  } finally {
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("security: the dashboard's session cookie, for fetch and SSE", async () => {
  const modules = await emptyModules();
  const data = await tempData();
  const orch = await startOrchestrator({ modules, data, args: ["--http", "0.0.0.0:0"] });
  try {
    const token = Deno.readTextFileSync(`${data}/auth-token`).trim();
    const post = (body: string) =>
      fetch(`${orch.url}/v1/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    await assert401(await post(JSON.stringify({ token: "wrong" })), /invalid credentials/);
    const bad = await post("not json");
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const signed = await post(JSON.stringify({ token }));
    assert.equal(signed.status, 204);
    const setCookie = signed.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^ca_session=[0-9a-f]{64}; /);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\//);
    assert.doesNotMatch(setCookie, /Secure/);
    assert.ok(!setCookie.includes(token), "the cookie holds an HMAC, not the token");
    const cookie = setCookie.split(";")[0];

    const list = await fetch(`${orch.url}/v1/modules`, { headers: { cookie } });
    assert.equal(list.status, 200);
    await list.body?.cancel();
    await assert401(
      await fetch(`${orch.url}/v1/modules`, { headers: { cookie: "ca_session=00" } }),
      /invalid credentials/,
    );

    // EventSource cannot send headers: the SSE stream works with the cookie alone.
    await assert401(
      await fetch(`${orch.url}/v1/events?afterId=0`, {
        headers: { accept: "text/event-stream" },
      }),
      /authentication required/,
    );
    const sse = await fetch(`${orch.url}/v1/events?afterId=0`, {
      headers: { accept: "text/event-stream", cookie },
    });
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get("content-type") ?? "", /text\/event-stream/);
    await sse.body?.cancel();

    const out = await fetch(`${orch.url}/v1/session`, { method: "DELETE", headers: { cookie } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie") ?? "", /^ca_session=; .*Max-Age=0/);
  } finally {
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("security: gRPC Control/ConfigService need the token; health, reflection and modules don't", async () => {
  const modules = await emptyModules();
  await addCamera(modules);
  const data = await tempData();
  // Only gRPC leaves loopback: both listeners require the token all the same.
  const orch = await startOrchestrator({ modules, data, args: ["--grpc", "0.0.0.0:0"] });
  const address = orch.grpcAddress;
  const control = createClient(ControlService, address);
  const config = createClient(ConfigService, address);
  const health = createClient(Health, address);
  try {
    assert.match(String(listening(orch.logs).grpc), /^0\.0\.0\.0:\d+$/);
    const token = Deno.readTextFileSync(`${data}/auth-token`).trim();
    const authorized = { headers: { authorization: `Bearer ${token}` } };
    await rejectsUnauthenticated(control.listModules({}));
    await rejectsUnauthenticated(
      control.listModules({}, { headers: { authorization: "Bearer wrong" } }),
    );
    await rejectsUnauthenticated(config.getModuleConfig({ name: "test-camera" }));
    // The camera registers and reports through EventService with its MODULE_TOKEN only.
    await waitFor(
      async () => {
        const { modules } = await control.listModules({}, authorized);
        return modules.find((m) => m.name === "test-camera")?.state === ModuleState.READY;
      },
      30_000,
      "camera READY",
    );
    const status = await control.getSystemStatus({}, authorized);
    assert.ok(status.version);
    // A server stream is refused too.
    const events = control.watchEvents({});
    await rejectsUnauthenticated((async () => {
      for await (const _ of events) break;
    })());

    assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
    const reflection = new GrpcReflection(address, grpc.credentials.createInsecure(), {}, "v1");
    assert.ok((await reflection.listServices()).includes("callassistant.v1.ControlService"));

    // The HTTP listener (on loopback here) requires the token as well.
    await assert401(await fetch(`${orch.url}/v1/modules`), /authentication required/);
  } finally {
    control.close();
    config.close();
    health.close();
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("security: --insecure turns authentication off, with a loud warning", async () => {
  const modules = await emptyModules();
  const data = await tempData();
  const orch = await startOrchestrator({
    modules,
    data,
    args: ["--http", "0.0.0.0:0", "--grpc", "0.0.0.0:0", "--insecure"],
  });
  const control = createClient(ControlService, orch.grpcAddress);
  try {
    const warning = orch.logs.find((l) => /^INSECURE/.test(String(l.msg)));
    assert.ok(warning, "a warning line");
    assert.equal(warning.level, "warn");
    assert.ok(!orch.logs.some((l) => String(l.msg).startsWith("authentication on")));
    const res = await fetch(`${orch.url}/v1/modules`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual((await control.listModules({})).modules, []);
    await assert.rejects(Deno.stat(`${data}/auth-token`), Deno.errors.NotFound);
  } finally {
    control.close();
    await orch.stop();
    await Deno.remove(modules, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});

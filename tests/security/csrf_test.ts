/**
 * Cross-site requests and DNS rebinding against the real orchestrator: a state-changing
 * request needs a JSON body (else 415), a foreign `Origin` is refused (403) unless
 * `--allowed-origin` names it (then CORS lets that page read the answers), and the `Host`
 * (gRPC `:authority`) must be a loopback name, an address the orchestrator listens on, or
 * an `--allowed-host` name. Same-origin requests (the dashboard) and curl keep working.
 */
import assert from "node:assert/strict";
import { ControlService } from "@callassistant/protocol";
import { Code, createClient, type RpcError } from "@callassistant/rpc";
import {
  addCamera,
  listModules,
  startOrchestrator,
  type TestOrchestrator,
  waitForState,
} from "../helpers/test_orchestrator.ts";
import { rawRequest } from "../helpers/raw_http.ts";

const CAMERA = JSON.stringify({ entityType: "video_source", name: "Porch" });

async function entityNames(url: string): Promise<string[]> {
  const { entities } = await (await fetch(`${url}/v1/entities`)).json();
  return entities.map((e: { name: string }) => e.name);
}

async function withCamera(args: string[], fn: (orch: TestOrchestrator) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addCamera(dir);
  const orch = await startOrchestrator({ modules: dir, args });
  try {
    await waitForState(orch.url, "test-camera", "READY");
    await fn(orch);
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("security: cross-site requests and foreign hosts are refused on both listeners", async (t) => {
  await withCamera([], async (orch) => {
    const address = orch.url.replace(/^http:\/\//, "");
    const port = address.split(":")[1];

    await t.step("a text/plain POST from a foreign page creates nothing", async () => {
      const res = await rawRequest(address, {
        method: "POST",
        path: "/v1/entities",
        headers: {
          host: address,
          origin: "http://evil.example",
          "content-type": "text/plain",
        },
        body: CAMERA,
      });
      assert.ok(res.status === 403 || res.status === 415, `${res.status} ${res.body}`);
      assert.deepEqual(await entityNames(orch.url), []);
    });

    await t.step("a foreign Origin is refused whatever the content type", async () => {
      for (
        const origin of ["http://evil.example", "null", `http://localhost.evil.example:${port}`]
      ) {
        const res = await rawRequest(address, {
          method: "POST",
          path: "/v1/entities",
          headers: { host: address, origin, "content-type": "application/json" },
          body: CAMERA,
        });
        assert.equal(res.status, 403, `${origin}: ${res.body}`);
        const body = JSON.parse(res.body);
        assert.equal(body.code, Code.PERMISSION_DENIED);
        assert.match(body.message, /origin .* is not allowed.*--allowed-origin/);
      }
      // A body-less stop from a foreign page too: the module keeps running.
      const stop = await rawRequest(address, {
        method: "POST",
        path: "/v1/modules/test-camera:stop",
        headers: { host: address, origin: "http://evil.example" },
      });
      assert.equal(stop.status, 403, stop.body);
      assert.equal((await listModules(orch.url))["test-camera"].state, "MODULE_STATE_READY");
      assert.deepEqual(await entityNames(orch.url), []);
    });

    await t.step("a body that is not JSON is 415, even without an Origin", async () => {
      for (
        const type of [
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
        ]
      ) {
        const res = await rawRequest(address, {
          method: "POST",
          path: "/v1/entities",
          headers: { host: address, "content-type": type },
          body: CAMERA,
        });
        assert.equal(res.status, 415, `${type}: ${res.body}`);
        assert.match(JSON.parse(res.body).message, /Content-Type: application\/json/);
      }
      // fetch's default for a string body is text/plain.
      const fetched = await fetch(`${orch.url}/v1/entities`, { method: "POST", body: CAMERA });
      assert.equal(fetched.status, 415);
      await fetched.body?.cancel();
      assert.deepEqual(await entityNames(orch.url), []);
    });

    await t.step("a foreign Host (DNS rebinding) is refused, reads included", async () => {
      for (
        const host of ["evil.example", `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]
      ) {
        const res = await rawRequest(address, { path: "/v1/modules", headers: { host } });
        assert.equal(res.status, 403, `${host}: ${res.body}`);
        assert.match(JSON.parse(res.body).message, /host .* is not allowed.*--allowed-host/);
      }
      const page = await rawRequest(address, { path: "/", headers: { host: "evil.example" } });
      assert.equal(page.status, 403);
    });

    await t.step("same origin, loopback names and curl-like clients work", async () => {
      for (const host of [address, `localhost:${port}`, `[::1]:${port}`, "127.0.0.1"]) {
        const res = await rawRequest(address, { path: "/v1/modules", headers: { host } });
        assert.equal(res.status, 200, `${host}: ${res.body}`);
      }
      const same = await rawRequest(address, {
        method: "POST",
        path: "/v1/entities",
        headers: {
          host: `localhost:${port}`,
          origin: `http://localhost:${port}`,
          "content-type": "application/json; charset=utf-8",
        },
        body: CAMERA,
      });
      assert.equal(same.status, 200, same.body);
      // curl -X POST with no body and no content type.
      const restart = await rawRequest(address, {
        method: "POST",
        path: "/v1/modules/test-camera:restart",
        headers: { host: address },
      });
      assert.equal(restart.status, 200, restart.body);
      assert.deepEqual(await entityNames(orch.url), ["Porch"]);
    });

    await t.step("gRPC: a foreign :authority is refused, loopback is served", async () => {
      const evil = createClient(ControlService, orch.grpcAddress, {
        channel: { "grpc.default_authority": `evil.example:${port}` },
      });
      const ok = createClient(ControlService, orch.grpcAddress);
      try {
        await assert.rejects(evil.listModules({}), (err: RpcError) => {
          assert.equal(err.code, Code.PERMISSION_DENIED, `${Code[err.code]}: ${err.message}`);
          assert.match(err.message, /host "evil\.example" is not allowed/);
          return true;
        });
        assert.ok((await ok.listModules({})).modules.length > 0);
      } finally {
        evil.close();
        ok.close();
      }
    });
  });
});

Deno.test("security: --allowed-host and --allowed-origin admit a name and a page", async () => {
  await withCamera(
    ["--allowed-host", "ca.home.arpa", "--allowed-origin", "https://dash.home.arpa:8443"],
    async (orch) => {
      const address = orch.url.replace(/^http:\/\//, "");
      const named = await rawRequest(address, {
        path: "/v1/modules",
        headers: { host: "CA.home.arpa:8080" },
      });
      assert.equal(named.status, 200, named.body);
      // The allowed page: its preflight is answered, and its request goes through.
      const preflight = await rawRequest(address, {
        method: "OPTIONS",
        path: "/v1/entities",
        headers: {
          host: "ca.home.arpa",
          origin: "https://dash.home.arpa:8443",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      assert.ok(preflight.status === 204 || preflight.status === 200, preflight.body);
      assert.equal(
        preflight.headers.get("access-control-allow-origin"),
        "https://dash.home.arpa:8443",
      );
      const created = await rawRequest(address, {
        method: "POST",
        path: "/v1/entities",
        headers: {
          host: "ca.home.arpa",
          origin: "https://dash.home.arpa:8443",
          "content-type": "application/json",
        },
        body: CAMERA,
      });
      assert.equal(created.status, 200, created.body);
      assert.equal(
        created.headers.get("access-control-allow-origin"),
        "https://dash.home.arpa:8443",
      );
      // Others still are not.
      const other = await rawRequest(address, {
        method: "POST",
        path: "/v1/entities",
        headers: {
          host: "ca.home.arpa",
          origin: "https://dash.home.arpa:9999",
          "content-type": "application/json",
        },
        body: CAMERA,
      });
      assert.equal(other.status, 403);
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      const client = createClient(ControlService, orch.grpcAddress, {
        channel: { "grpc.default_authority": "ca.home.arpa:50051" },
      });
      try {
        assert.ok((await client.listModules({})).modules.length > 0);
      } finally {
        client.close();
      }
    },
  );
});

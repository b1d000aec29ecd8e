/** The token helpers and the gateway's `auth` option, without an orchestrator. */
import assert from "node:assert/strict";
import { createGateway } from "../../src/gateway/app.ts";
import {
  bearerToken,
  constantTimeEqual,
  cookieValue,
  createAuthenticator,
  generateToken,
  loadOrCreateToken,
} from "../../src/security/auth.ts";

Deno.test("security: token helpers", async () => {
  assert.match(generateToken(), /^[0-9a-f]{64}$/);
  assert.notEqual(generateToken(), generateToken());
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd"));
  assert.ok(!constantTimeEqual("", "a"));
  assert.equal(bearerToken("Bearer xyz"), "xyz");
  assert.equal(bearerToken("bearer   xyz "), "xyz");
  assert.equal(bearerToken("Basic xyz"), undefined);
  assert.equal(bearerToken(null), undefined);
  assert.equal(cookieValue("a=1; ca_session=ff; b=2", "ca_session"), "ff");
  assert.equal(cookieValue("a=1", "ca_session"), undefined);
  const auth = createAuthenticator("secret");
  assert.notEqual(auth.sessionValue, "secret");
  assert.equal(auth.checkHeaders(new Headers()), "missing");
  assert.equal(auth.checkHeaders(new Headers({ authorization: "Bearer secret" })), "ok");
  assert.equal(auth.checkHeaders(new Headers({ authorization: "Bearer nope" })), "invalid");
  assert.equal(
    auth.checkHeaders(new Headers({ cookie: `ca_session=${auth.sessionValue}` })),
    "ok",
  );
  assert.equal(auth.checkHeaders(new Headers({ cookie: "ca_session=secret" })), "invalid");

  // A directory as the token file is one clear error.
  const data = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${data}/auth-token`);
    await assert.rejects(loadOrCreateToken(data), /auth-token is not a regular file/);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("security: the gateway's auth option stays generic (isPublic)", async () => {
  const app = createGateway({
    services: [],
    extraRoutes: (a) => a.get("/open", (c) => c.text("open")),
    auth: { token: "t0k", isPublic: (method, path) => method === "GET" && path === "/open" },
  });
  assert.equal((await app.request("/open")).status, 200);
  const closed = await app.request("/openapi.json");
  assert.equal(closed.status, 401);
  assert.equal(closed.headers.get("www-authenticate"), "Bearer");
  assert.equal((await closed.json()).code, 16);
  const ok = await app.request("/openapi.json", { headers: { authorization: "Bearer t0k" } });
  assert.equal(ok.status, 200);
  assert.equal((await app.request("/readyz")).status, 200);
  // Without `auth` nothing is required and there are no session routes.
  const open = createGateway({ services: [] });
  assert.equal((await open.request("/openapi.json")).status, 200);
  const session = await open.request("/v1/session", {
    method: "POST",
    body: "{}",
    headers: { "content-type": "application/json" },
  });
  assert.equal(session.status, 404);
});

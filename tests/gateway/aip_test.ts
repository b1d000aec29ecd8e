/**
 * Google's API guides on the real orchestrator: AIP-193 errors (a 400 carries a
 * `google.rpc.BadRequest` with field violations, on HTTP in `details` and on gRPC in the
 * `grpc-status-details-bin` trailer), AIP-158 pagination of every list (`pageSize`,
 * opaque `pageToken`, `nextPageToken`; a bad or foreign token is a 400 naming the field),
 * create answering the created resource, and short enum names in query filters.
 */
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { ControlService } from "@callassistant/protocol";
import { BadRequestSchema } from "@callassistant/protocol/google/rpc/error_details";
import { StatusSchema } from "@callassistant/protocol/google/rpc/status";
import { Code, createClient, RpcError } from "@callassistant/rpc";
import { ROOT, startOrchestrator } from "../helpers/test_orchestrator.ts";
import { addExample, call, ok, waitReady } from "../flows/flow_helpers.ts";

type Json = Record<string, unknown>;
type Violation = { field: string; description: string };

/** The field violations of a JSON error body (and checks the detail's type URL). */
function violations(body: Json): Violation[] {
  const details = body.details as Json[];
  const bad = details.filter((d) => d["@type"] === "type.googleapis.com/google.rpc.BadRequest");
  return bad.flatMap((d) => d.fieldViolations as Violation[]);
}

/** Every item of a list, read `pageSize` at a time; also returns how many pages it took. */
async function pageThrough(url: string, path: string, key: string, pageSize: number) {
  const items: Json[] = [];
  let token = "";
  let pages = 0;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const q = `pageSize=${pageSize}${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
    const body = await ok(url, "GET", `${path}${sep}${q}`);
    assert.ok(body[key].length <= pageSize, `${path}: at most ${pageSize} per page`);
    items.push(...body[key]);
    token = body.nextPageToken;
    pages++;
    assert.ok(pages < 100, "pages end");
  } while (token);
  return { items, pages };
}

async function addConfigurable(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/conf`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/conf/module.yaml`,
    `name: conf\ncommand: ["deno", "run", "--allow-all", "${ROOT}tests/fixtures/configurable.ts"]\n`,
  );
}

Deno.test("AIP-193 and AIP-158: field violations, pages, created resources, short enum names", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-modules-" });
  await addExample(dir, "test-camera");
  await addExample(dir, "media-converter");
  await addExample(dir, "matrix-call");
  await addConfigurable(dir);
  const orch = await startOrchestrator({ modules: dir });
  const url = orch.url;
  try {
    await waitReady(url, ["test-camera", "media-converter", "matrix-call"]);

    await t.step("create answers the created resource, as GET shows it", async () => {
      const created = (await ok(url, "POST", "/v1/entities", {
        entityType: "video_source",
        name: "Cam 0",
        id: "cam-0",
      })).entity;
      const got = (await ok(url, "GET", "/v1/entities/cam-0")).entity;
      for (const k of ["id", "entityType", "kind", "module", "name", "origin", "configuration"]) {
        assert.deepEqual(created[k], got[k], `entity.${k}`);
      }
      assert.ok(created.createdAt, "the server's own fields are set");
      const room = (await ok(url, "POST", "/v1/entities", {
        entityType: "matrix_room_call",
        name: "Room",
        configuration: { room_id: "!r:example.org" },
      })).entity;
      assert.equal(room.id, "room", "the id the server chose is in the answer");
      const flow = (await ok(url, "POST", "/v1/flows", {
        sourceEntityId: "cam-0",
        targetEntityId: "room",
      })).flow;
      const gotFlow = (await ok(url, "GET", `/v1/flows/${flow.id}`)).flow;
      for (const k of ["id", "sourceEntityId", "targetEntityId", "state", "path", "createdAt"]) {
        assert.deepEqual(flow[k], gotFlow[k], `flow.${k}`);
      }
      const conf = (await ok(url, "PUT", "/v1/modules/conf/config", {
        config: { host: "a.local" },
        expectedRevision: "0",
      })).current;
      assert.deepEqual(conf, (await ok(url, "GET", "/v1/modules/conf/config")).current);
    });

    await t.step("entities page through with pageSize=2, opaque tokens", async () => {
      for (let i = 1; i <= 4; i++) {
        await ok(url, "POST", "/v1/entities", {
          entityType: "video_source",
          name: `Cam ${i}`,
          id: `cam-${i}`,
        });
      }
      const all = (await ok(url, "GET", "/v1/entities?entityType=video_source")).entities;
      assert.equal(all.length, 5);
      const { items, pages } = await pageThrough(
        url,
        "/v1/entities?entityType=video_source",
        "entities",
        2,
      );
      assert.equal(pages, 3);
      assert.deepEqual(items.map((e) => e.id), all.map((e: Json) => e.id));
      // The last page has no token; the first has one that reads as nothing in particular.
      const first = await ok(url, "GET", "/v1/entities?entityType=video_source&pageSize=2");
      assert.match(first.nextPageToken, /^[A-Za-z0-9_-]+$/);
      assert.doesNotMatch(first.nextPageToken, /cam-1/, "the token is not the plain id");
      // A token with other filters, a token of another list, garbage, a negative size.
      const changed = await call(
        url,
        "GET",
        `/v1/entities?entityType=video_source&module=test-camera&pageToken=${first.nextPageToken}`,
      );
      assert.equal(changed.status, 400);
      assert.equal(violations(changed.body)[0].field, "pageToken");
      assert.match(violations(changed.body)[0].description, /other filters/);
      const foreign = await call(url, "GET", `/v1/flows?pageToken=${first.nextPageToken}`);
      assert.equal(foreign.status, 400);
      assert.match(violations(foreign.body)[0].description, /not a page token of this list/);
      const garbage = await call(url, "GET", "/v1/entities?pageToken=%25%25%25");
      assert.equal(garbage.status, 400);
      assert.deepEqual(violations(garbage.body).map((v) => v.field), ["pageToken"]);
      const negative = await call(url, "GET", "/v1/entities?pageSize=-1");
      assert.equal(negative.status, 400);
      assert.deepEqual(violations(negative.body).map((v) => v.field), ["pageSize"]);
      // A deletion between two pages neither repeats nor skips another entity.
      const p1 = await ok(url, "GET", "/v1/entities?entityType=video_source&pageSize=2");
      await ok(url, "DELETE", "/v1/entities/cam-2");
      const p2 = await ok(
        url,
        "GET",
        `/v1/entities?entityType=video_source&pageSize=2&pageToken=${p1.nextPageToken}`,
      );
      assert.deepEqual(p2.entities.map((e: Json) => e.id), ["cam-3", "cam-4"]);
    });

    await t.step("modules, flows, revisions and the event history page too", async () => {
      const modules = await pageThrough(url, "/v1/modules", "modules", 3);
      assert.deepEqual(modules.items.map((m) => m.name), [
        "conf",
        "matrix-call",
        "media-converter",
        "test-camera",
      ]);
      assert.equal(modules.pages, 2);
      const flows = await pageThrough(url, "/v1/flows", "flows", 1);
      assert.equal(flows.items.length, 1);
      for (const host of ["b.local", "c.local"]) {
        const current = (await ok(url, "GET", "/v1/modules/conf/config")).current;
        await ok(url, "PUT", "/v1/modules/conf/config", {
          config: { host },
          expectedRevision: current.revision,
        });
      }
      const revisions = await pageThrough(url, "/v1/modules/conf/config/revisions", "revisions", 2);
      assert.deepEqual(revisions.items.map((r) => r.revision), ["3", "2", "1"], "newest first");
      assert.equal(revisions.pages, 2);
      const history = await pageThrough(url, "/v1/events/history?types=entity.*", "events", 3);
      const ids = history.items.map((e) => BigInt(e.id as string));
      assert.ok(ids.length >= 6, `entity events: ${ids.length}`);
      assert.deepEqual(ids, [...ids].sort((a, b) => (a < b ? 1 : -1)), "newest first");
      assert.ok(history.items.every((e) => String(e.type).startsWith("entity.")));
      const one = await ok(url, "GET", "/v1/events/history?pageSize=1");
      assert.equal(one.events.length, 1);
      assert.notEqual(one.nextPageToken, "");
    });

    await t.step("short enum names in query filters", async () => {
      const full = await ok(url, "GET", "/v1/modules?state=MODULE_STATE_READY");
      const short = await ok(url, "GET", "/v1/modules?state=READY");
      assert.ok(short.modules.length >= 3);
      assert.deepEqual(short, full);
      const endpoints = await ok(url, "GET", "/v1/entities?kind=ENDPOINT");
      assert.deepEqual(endpoints.entities.map((e: Json) => e.id), ["room"]);
      assert.deepEqual(endpoints, await ok(url, "GET", "/v1/entities?kind=ENTITY_KIND_ENDPOINT"));
      const warnings = await ok(url, "GET", "/v1/events/history?minSeverity=WARNING&pageSize=5");
      assert.ok(
        warnings.events.every((e: Json) => e.severity !== "SEVERITY_INFO"),
        "WARNING filters as SEVERITY_WARNING",
      );
      const bad = await call(url, "GET", "/v1/modules?state=SLEEPY");
      assert.equal(bad.status, 400);
      assert.deepEqual(violations(bad.body), [{
        field: "state",
        description: bad.body.message.replace(/^invalid request: /, ""),
      }]);
    });

    await t.step("400s carry field violations naming the field", async () => {
      const unknownParam = await call(url, "GET", "/v1/entities?colour=red");
      assert.equal(unknownParam.status, 400);
      assert.equal(violations(unknownParam.body)[0].field, "colour");
      const unknownField = await call(url, "POST", "/v1/flows", {
        sourceEntityId: "cam-0",
        quality: { colour: "red" },
      });
      assert.equal(unknownField.status, 400);
      assert.equal(violations(unknownField.body)[0].field, "quality.colour");
      const missing = await call(url, "POST", "/v1/flows", { sourceEntityId: "cam-0" });
      assert.equal(missing.status, 400);
      assert.deepEqual(violations(missing.body), [{
        field: "targetEntityId",
        description: "is required",
      }]);
      const config = await call(url, "PUT", "/v1/modules/conf/config", {
        config: { port: 70000, colour: "red" },
        expectedRevision: "3",
      });
      assert.equal(config.status, 400);
      assert.match(config.body.message, /port: must be <= 65535/, "the message stays as it was");
      assert.deepEqual(violations(config.body).map((v) => v.field).sort(), [
        "config.colour",
        "config.host",
        "config.port",
      ]);
      const entity = await call(url, "POST", "/v1/entities", {
        entityType: "gadget",
        name: "G",
        configuration: { size: 11 },
      });
      assert.equal(entity.status, 400);
      assert.deepEqual(violations(entity.body), [{
        field: "configuration.size",
        description: "must be <= 10",
      }]);
      // An error that is not about a field carries no BadRequest.
      const notFound = await call(url, "GET", "/v1/entities/nope");
      assert.equal(notFound.status, 404);
      assert.deepEqual(notFound.body.details, []);
    });

    await t.step("gRPC: the same violations in grpc-status-details-bin", async () => {
      const client = createClient(ControlService, orch.grpcAddress);
      const raw = new grpc.Client(orch.grpcAddress, grpc.credentials.createInsecure());
      try {
        await assert.rejects(
          client.listEntities({ pageSize: -5 }),
          (err: unknown) => err instanceof RpcError && err.code === Code.INVALID_ARGUMENT,
        );
        // Read the trailer itself with plain grpc-js, as any gRPC client would: ListFlows
        // with page_token (field 4) "x!", which is no token of ours.
        const trailer = await new Promise<Uint8Array>((resolve, reject) => {
          raw.makeUnaryRequest(
            "/callassistant.v1.ControlService/ListFlows",
            (x: Uint8Array) => Buffer.from(x),
            (x: Uint8Array) => x,
            new Uint8Array([0x22, 0x02, 0x78, 0x21]),
            (err) => {
              const bin = err?.metadata.get("grpc-status-details-bin")[0];
              if (!err || !bin) return reject(new Error(`no trailer: ${err?.message}`));
              assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
              resolve(new Uint8Array(bin as Uint8Array));
            },
          );
        });
        const status = fromBinary(StatusSchema, trailer);
        assert.equal(status.code, Code.INVALID_ARGUMENT);
        const detail = anyUnpack(status.details[0], BadRequestSchema);
        assert.equal(detail?.fieldViolations[0].field, "pageToken");
        assert.match(status.message, /pageToken: not a page token/);
      } finally {
        client.close();
        raw.close();
      }
    });
  } finally {
    await orch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

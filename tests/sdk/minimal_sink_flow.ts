/**
 * What both SDKs' minimal sink examples must do once READY with an entity (the
 * TypeScript and Python example tests share it): a flow from the test camera reaches the
 * sink (ACTIVE, with the sink's own status and bitrate in it, the entity ACTIVE), an
 * unknown entity is 404, and flow and entity delete cleanly.
 */
import assert from "node:assert/strict";
import { call, ok, waitFlow } from "../flows/flow_helpers.ts";

/** Runs a flow from `cameraId` to the minimal sink's `recorderId`, then deletes both. */
export async function flowIntoMinimalSink(
  url: string,
  cameraId: string,
  recorderId: string,
): Promise<void> {
  const flow = (await ok(url, "POST", "/v1/flows", {
    sourceEntityId: cameraId,
    targetEntityId: recorderId,
  })).flow;
  assert.equal(flow.state, "FLOW_STATE_ACTIVE");
  const live = await waitFlow(
    url,
    flow.id,
    "FLOW_STATE_ACTIVE",
    (f) => f.statuses.some((s: { module: string }) => s.module === "minimal-sink"),
  );
  const mine = live.statuses.find((s: { module: string }) => s.module === "minimal-sink");
  assert.equal(mine.state, "FLOW_STATE_ACTIVE");
  assert.ok(mine.metrics.bitrate_kbps > 0, JSON.stringify(mine));
  const active = (await ok(url, "GET", `/v1/entities/${recorderId}`)).entity;
  assert.equal(active.state, "ENTITY_STATE_ACTIVE");

  // Bad input gets the module's own answer.
  const missing = await call(url, "GET", "/v1/entities/nope");
  assert.equal(missing.status, 404);
  await ok(url, "DELETE", `/v1/flows/${flow.id}`);
  await ok(url, "DELETE", `/v1/entities/${recorderId}`);
  const { entities } = await ok(url, "GET", "/v1/entities?module=minimal-sink");
  assert.deepEqual(entities, []);
}

/**
 * minimal-sink: the smallest useful TypeScript module, a sink that "records" RTSP H.264
 * video. EntityTable keeps its entities and answers EntityService; FlowTable answers
 * PipelineService (it checks each connection against `receives` and simulates the media).
 */
import { EntityKind, EntityTable, FlowTable, MediaType, serveModule } from "@callassistant/sdk";

const VIDEO = { mediaType: MediaType.VIDEO, protocol: "rtsp", codec: "h264" };

const recorders = new EntityTable({
  entityType: "recorder",
  kind: EntityKind.SINK,
  active: (id): boolean => flows.isActive(id),
  onDestroy: (id) => flows.dropEntity(id),
});

const flows = new FlowTable({
  receives: [VIDEO],
  has: (id): boolean => recorders.has(id),
  // RTSP is pulled: the recorder answers no address and is told the camera's.
  onChange: (status) => void mod.events.status({ flows: [status] }),
});

const mod = await serveModule({
  info: { version: "0.1.0", description: "A minimal sink written on the TypeScript SDK" },
  capabilities: [{
    entityType: "recorder",
    kind: EntityKind.SINK,
    description: "Records video",
    inputs: [VIDEO],
  }],
  entity: recorders.handlers(),
  pipeline: flows.handlers(),
});

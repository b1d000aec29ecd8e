/**
 * web-screen: browser screens. A `web_screen` entity is a page, `/screens/<entity id>`
 * on this module's HTTP server, that a TV, tablet or desktop browser opens; it plays
 * whatever flow is connected to the screen (WebRTC by WHEP, HLS, or MJPEG, all H.264
 * except MJPEG), full screen, reconnects by itself, and reports what it really shows.
 * Those reports become the entity's and the flow's status and metrics
 * (`screen_status.ts` lists the keys).
 *
 * The screen pulls its media: as the receiving side of a connection it answers no
 * address, and is then told the sender's (a WHEP endpoint, an HLS playlist, an MJPEG
 * stream URL), which its page fetches.
 */
import {
  Code,
  ConnectionRole,
  EntityKind,
  EntityOrigin,
  type EventReporter,
  FlowMeters,
  formatName,
  type JsonObject,
  MediaSide,
  MediaType,
  resolveQuality,
  RpcError,
  serveModule,
  timestampFromDate,
  timestampFromMs,
} from "@callassistant/sdk";
import { httpBase, readMediaAddress } from "./media_host.ts";
import {
  ACCEPT_WORDS,
  accepts,
  type BrowserCapabilities,
  browserName,
  parseAccept,
  probedInputs,
} from "./screen_formats.ts";
import { feedMeter, resetSeen } from "./screen_media.ts";
import { startScreenServer } from "./screen_server.ts";
import { flowStatus, screenStatus } from "./screen_status.ts";
import {
  type Protocol,
  PROTOCOLS,
  type Screen,
  type ScreenReport,
  ScreenTable,
} from "./screen_table.ts";

const ENTITY_TYPE = "web_screen";
const INPUTS = [
  { mediaType: MediaType.VIDEO, protocol: "webrtc", codec: "h264" },
  { mediaType: MediaType.VIDEO, protocol: "hls", codec: "h264" },
  { mediaType: MediaType.VIDEO, protocol: "mjpeg", codec: "mjpeg" },
];
const CONFIG_SCHEMA: JsonObject = {
  type: "object",
  additionalProperties: false,
  properties: {
    show_info: {
      type: "boolean",
      default: false,
      description: "Show a line of figures (protocol, fps, latency, stalls) on the page",
    },
    accept: {
      type: "array",
      items: { type: "string", enum: [...ACCEPT_WORDS] },
      description: 'The protocols and codec families the page may play (e.g. ["mjpeg"]); ' +
        "empty or absent for all it can",
    },
  },
};
const REPORT_EVERY_MS = 2000;

const address = readMediaAddress((name) => Deno.env.get(name));
const table = new ScreenTable();
/** Flows started here: id -> running, and the quality last asked for. */
const flows = new Map<string, { running: boolean; quality: ReturnType<typeof resolveQuality> }>();
/** The module's reporter, once it is served. */
const served: { events?: EventReporter } = {};
/** MediaStats PRESENTED of every connection a page plays, from the page's reports. */
const media = new FlowMeters(() => served.events);

/**
 * A page reported: its figures go into the meter of the connection it plays. The meter is
 * made by the first report of a page that plays the connection: until a page is open the
 * screen reports no media for it (nobody watches; nothing to re-route), from then on what
 * the page presents, 0 frames included (a page that cannot decode it).
 */
function onPageReport(screenId: string, report: ScreenReport): void {
  const c = table.connections.get(String(report.connection_id ?? ""));
  if (!c || c.screenId !== screenId || !c.running || !media.started(c.flowId)) return;
  // A report of an earlier start of the same connection (the page has not seen the new
  // one yet) is not this start's.
  if (report.source_started_at !== c.startedAt) return;
  feedMeter(media.meter(c.flowId, c.id, MediaSide.PRESENTED), report);
}

// Pages are served before the gRPC server answers, so every entity knows its page URL.
const dataDir = Deno.env.get("MODULE_DATA_DIR");
const server = await startScreenServer(table, {
  hostname: address.bind,
  port: address.port,
  fallback: address.fallback,
  remember: dataDir ? `${dataDir}/screen-port` : undefined,
  hooks: { onReport: onPageReport },
});
const base = httpBase(address.host, server.port);

function invalid(message: string): never {
  throw new RpcError(Code.INVALID_ARGUMENT, message);
}

function find(id: string): Screen {
  const screen = table.get(id);
  if (!screen) throw new RpcError(Code.NOT_FOUND, `no screen "${id}" on this module`);
  return screen;
}

function parseConfig(raw: JsonObject = {}): { show_info: boolean; accept: string[] } {
  const unknown = Object.keys(raw).filter((k) => k !== "show_info" && k !== "accept");
  if (unknown.length) {
    invalid(`configuration: unknown field "${unknown[0]}" (allowed: show_info, accept)`);
  }
  const showInfo = raw.show_info ?? false;
  if (typeof showInfo !== "boolean") {
    invalid(`configuration.show_info: expected true or false, got ${JSON.stringify(showInfo)}`);
  }
  try {
    return { show_info: showInfo, accept: parseAccept(raw.accept) };
  } catch (err) {
    invalid((err as Error).message);
  }
}

/** The screen's status with what it really plays (its browser's formats and `accept`). */
function statusOf(screen: Screen) {
  const status = screenStatus(table, screen.id, base);
  const report = table.reports.get(screen.id)?.report;
  const caps = report?.capabilities as BrowserCapabilities | undefined;
  return {
    ...status,
    formats: {
      ...probedInputs(screen.accept, caps, browserName(report?.user_agent)),
      probedAt: timestampFromMs(table.reports.get(screen.id)?.at ?? screen.updatedAt.getTime()),
    },
  };
}

function toEntity(screen: Screen) {
  const status = statusOf(screen);
  return {
    id: screen.id,
    entityType: ENTITY_TYPE,
    kind: EntityKind.SINK,
    module: mod.env.moduleName || "web-screen",
    name: screen.name,
    state: status.state,
    configuration: { show_info: screen.showInfo, accept: screen.accept },
    origin: EntityOrigin.CREATED,
    status,
    createdAt: timestampFromDate(screen.createdAt),
    updatedAt: timestampFromDate(screen.updatedAt),
  };
}

function statusOfFlow(flowId: string) {
  const flow = flows.get(flowId);
  return {
    ...flowStatus(table, flowId, flow?.running ?? false),
    quality: flow?.quality,
    media: media.stats(flowId),
  };
}

/** Sends the status of every screen that has a page or a flow, and of their flows. */
function report(): void {
  const screens = [...table.screens.values()].filter((s) =>
    table.freshReport(s.id) || table.sourceOf(s.id)
  );
  if (!screens.length) return;
  const flowIds = new Set(
    [...table.connections.values()].filter((c) => c.running).map((c) => c.flowId),
  );
  void mod.events.status({
    entities: screens.map(statusOf),
    flows: [...flowIds].map(statusOfFlow),
  });
}

const mod = await serveModule({
  info: {
    name: "web-screen",
    version: "0.1.0",
    description: "Browser screens: a page per screen plays WebRTC, HLS or MJPEG",
  },
  capabilities: [{
    entityType: ENTITY_TYPE,
    kind: EntityKind.SINK,
    description: "A page a TV or tablet browser opens; it plays the flow connected to it " +
      "and reports the frames it decodes",
    inputs: INPUTS,
    configSchema: CONFIG_SCHEMA,
  }],
  entity: {
    createEntity: (req) => {
      if (req.entityType !== ENTITY_TYPE) {
        invalid(`unknown entity type "${req.entityType}"; this module provides: ${ENTITY_TYPE}`);
      }
      if (!req.entityId) invalid("entity_id is required");
      const config = parseConfig(req.configuration);
      let screen = table.get(req.entityId);
      if (!screen) {
        const now = new Date();
        screen = {
          id: req.entityId,
          name: req.name,
          showInfo: config.show_info,
          accept: config.accept,
          createdAt: now,
          updatedAt: now,
        };
        table.screens.set(screen.id, screen);
        mod.logger.info("screen created", {
          entity_id: screen.id,
          page: `${base}/screens/${screen.id}`,
        });
      }
      return { entity: toEntity(screen) };
    },
    configureEntity: (req) => {
      const screen = find(req.entityId);
      const config = parseConfig(req.configuration);
      screen.showInfo = config.show_info;
      screen.accept = config.accept;
      screen.updatedAt = new Date();
      return { entity: toEntity(screen) };
    },
    getEntityStatus: (req) => ({ status: statusOf(find(req.entityId)) }),
    destroyEntity: (req) => {
      table.remove(find(req.entityId).id);
      return {};
    },
    listEntities: () => ({ entities: [...table.screens.values()].map(toEntity) }),
  },
  pipeline: {
    connectEntities: (req) => {
      if (!req.connectionId || !req.flowId) invalid("connection_id and flow_id are required");
      if (!req.format) invalid("format is required");
      if (req.role !== ConnectionRole.RECEIVER) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `screen "${req.sourceEntityId || req.targetEntityId}" only receives media`,
        );
      }
      const screen = find(req.targetEntityId);
      const format = formatName(req.format);
      const playable = INPUTS.filter((f) => accepts(screen.accept, f));
      if (!playable.some((f) => formatName(f) === format)) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `screen "${screen.id}" plays ${playable.map(formatName).join(", ") || "nothing"}` +
            `${
              screen.accept.length ? ` (accept: ${screen.accept.join(", ")})` : ""
            }, not ${format}`,
        );
      }
      if (req.address && !/^https?:\/\/\S+$/.test(req.address)) {
        invalid(`address: a screen fetches its media over HTTP, got "${req.address}"`);
      }
      const old = table.connections.get(req.connectionId);
      table.connections.set(req.connectionId, {
        id: req.connectionId,
        flowId: req.flowId,
        screenId: screen.id,
        protocol: req.format.protocol.toLowerCase() as Protocol,
        url: req.address,
        running: old?.running ?? false,
        startedAt: old?.startedAt ?? 0,
        reload: old?.reload ?? 0,
      });
      // Pulling: no address of our own; the page fetches the sender's.
      return {
        address: "",
        connection: {
          id: req.connectionId,
          flowId: req.flowId,
          sourceEntityId: req.sourceEntityId,
          targetEntityId: req.targetEntityId,
          format: req.format,
          address: req.address,
        },
      };
    },
    disconnectEntities: (req) => {
      table.connections.delete(req.connectionId);
      media.forget({ flowId: req.flowId, connectionId: req.connectionId });
      if (![...table.connections.values()].some((c) => c.flowId === req.flowId)) {
        flows.delete(req.flowId);
      }
      return {};
    },
    startFlow: (req) => {
      const mine = [...table.connections.values()].filter((c) => c.flowId === req.flowId);
      const unknown = req.connectionIds.filter((id) => !table.connections.has(id));
      if (!mine.length || unknown.length) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `flow "${req.flowId}": unknown connection(s) ${
            (unknown.length ? unknown : req.connectionIds).join(", ") || "(none given)"
          } on this module: connect them first`,
        );
      }
      const missing = mine.filter((c) => !c.url);
      if (missing.length) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `flow "${req.flowId}": connection ${missing[0].id} has no address to fetch media from`,
        );
      }
      const now = Date.now();
      for (const c of mine) {
        c.running = true;
        c.startedAt = now;
      }
      flows.set(req.flowId, { running: true, quality: resolveQuality(req.quality) });
      media.start(req.flowId);
      media.meters(req.flowId).forEach(resetSeen);
      setTimeout(report, 0);
      return { status: statusOfFlow(req.flowId) };
    },
    stopFlow: (req) => {
      media.stop(req.flowId);
      for (const c of table.connections.values()) if (c.flowId === req.flowId) c.running = false;
      const flow = flows.get(req.flowId);
      if (flow) flow.running = false;
      return {};
    },
    getFlowStatus: (req) => {
      if (![...table.connections.values()].some((c) => c.flowId === req.flowId)) {
        throw new RpcError(Code.NOT_FOUND, `flow "${req.flowId}" has no connection on this module`);
      }
      return { status: statusOfFlow(req.flowId) };
    },
    reestablishConnection: (req) => {
      if (!req.flowId || !req.connectionId) invalid("flow_id and connection_id are required");
      const c = table.connections.get(req.connectionId);
      if (!c || c.flowId !== req.flowId) {
        throw new RpcError(
          Code.NOT_FOUND,
          `connection "${req.connectionId}" of flow "${req.flowId}" is not on this module`,
        );
      }
      if (!c.running) {
        throw new RpcError(
          Code.FAILED_PRECONDITION,
          `flow "${req.flowId}" is not started on this module: nothing to restart`,
        );
      }
      // The page polls its source four times a second and restarts its player on a new count.
      c.reload++;
      mod.logger.warn("re-establishing", {
        entity_id: c.screenId,
        connection_id: c.id,
        reason: req.reason || "asked",
      });
      const page = table.freshReport(c.screenId) ? "its page" : "no page is open; the next one";
      return {
        message:
          `screen "${c.screenId}": ${page} restarts its ${c.protocol} player (reload ${c.reload})`,
      };
    },
    adjustQuality: (req) => {
      const flow = flows.get(req.flowId);
      if (!flow) throw new RpcError(Code.NOT_FOUND, `flow "${req.flowId}" is not started here`);
      // The page plays what it is sent; the quality is the senders' business.
      flow.quality = resolveQuality(req.quality);
      setTimeout(report, 0);
      return { quality: flow.quality };
    },
  },
  onShutdown: async () => {
    clearInterval(timer);
    media.close();
    await server.shutdown();
  },
});

served.events = mod.events;
mod.logger.info("screens served", { url: `${base}/`, protocols: PROTOCOLS.join(",") });
const timer = setInterval(report, REPORT_EVERY_MS);

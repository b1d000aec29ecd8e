"""cast-screen: simulated cast screens (Chromecast-like), written in Python on the SDK.

A `cast_screen` entity is a SINK that plays HLS (H.264 video, AAC audio). The module also
"discovers" one screen on its own (CAST_SCREEN_DISCOVER, default "Living room TV"; empty for
none): it lists it in ListEntities and announces it with an `entities.changed` event.
Playback is simulated, with metrics that follow the flow's quality.

It runs with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf); the orchestrator
puts the SDK (packages/sdk-python) on PYTHONPATH. As a remote module it serves TLS with
GRPC_HOST, GRPC_TLS_CERT, GRPC_TLS_KEY (and GRPC_TLS_CLIENT_CA for mutual TLS).
"""

import asyncio
import os
import re

import callassistant as ca

ENTITY_TYPE = "cast_screen"
ACCEPTS = [ca.fmt("video", "hls", "h264"), ca.fmt("audio", "hls", "aac")]
HLS_LATENCY_MS = 1800  # a player buffers a few segments
CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "description": "IP address or host name of the device"},
        "volume": {"type": "integer", "minimum": 0, "maximum": 100, "default": 50},
    },
}


def invalid(message: str) -> ca.RpcError:
    return ca.RpcError(ca.Code.INVALID_ARGUMENT, message)


def parse_config(raw: dict) -> dict:
    """The screen configuration, checked; INVALID_ARGUMENT naming the bad field."""
    unknown = [k for k in raw if k not in ("host", "volume")]
    if unknown:
        raise invalid(f'configuration: unknown field "{unknown[0]}" (allowed: host, volume)')
    host = raw.get("host", "")
    if not isinstance(host, str) or (host and not re.fullmatch(r"[A-Za-z0-9.:-]+", host)):
        raise invalid(f"configuration.host: expected an IP address or host name, got {host!r}")
    volume = raw.get("volume", 50)
    if not isinstance(volume, int) or isinstance(volume, bool) or not 0 <= volume <= 100:
        raise invalid(f"configuration.volume: expected an integer from 0 to 100, got {volume!r}")
    return {"host": host, "volume": volume}


class CastScreen(ca.Module):
    name, version = "cast-screen", "0.1.0"
    description = "Simulated cast screens"
    capabilities = [
        ca.capability(
            ENTITY_TYPE,
            ca.EntityKind.SINK,
            inputs=ACCEPTS,
            description="A screen that plays HLS (H.264 video, AAC audio), like a Chromecast",
            config_schema=CONFIG_SCHEMA,
        )
    ]

    def __init__(self):
        self.name = os.environ.get("MODULE_NAME") or self.name
        self.screens = {}  # id -> Entity (without status)
        self.flows = ca.FlowTable(self.check, self.address, latency_ms=HLS_LATENCY_MS, on_change=self.report_flow)
        self.flows.attach(self)

    # -- entities
    def screen(self, entity_id: str) -> ca.Entity:
        if entity_id not in self.screens:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'no screen "{entity_id}" on this module')
        return self.screens[entity_id]

    def status(self, entity_id: str) -> ca.EntityStatus:
        playing = self.flows.flow_of(entity_id)
        metrics = {"volume": float(ca.from_struct(self.screens[entity_id].configuration)["volume"])}
        if playing:
            metrics.update(ca.simulated_metrics(playing.quality, HLS_LATENCY_MS, video=True, audio=True))
        state = ca.EntityState.ACTIVE if playing else ca.EntityState.READY
        message = "playing" if playing else "idle"
        return ca.EntityStatus(entity_id=entity_id, state=state, message=message, metrics=metrics)

    def entity(self, entity_id: str) -> ca.Entity:
        entity = ca.Entity()
        entity.CopyFrom(self.screen(entity_id))
        entity.status.CopyFrom(self.status(entity_id))
        entity.state = entity.status.state
        return entity

    def add(self, entity_id, name, config, origin) -> None:
        entity = ca.Entity(id=entity_id, entity_type=ENTITY_TYPE, kind=ca.EntityKind.SINK, module=self.name, name=name,
                           configuration=ca.to_struct(config), origin=origin)
        entity.created_at.GetCurrentTime()
        entity.updated_at.CopyFrom(entity.created_at)
        self.screens[entity_id] = entity

    def create_entity(self, req, ctx):
        if req.entity_type != ENTITY_TYPE:
            raise invalid(f'unknown entity type "{req.entity_type}"; this module provides: {ENTITY_TYPE}')
        if not req.entity_id:
            raise invalid("entity_id is required")
        config = parse_config(ca.from_struct(req.configuration))
        if req.entity_id not in self.screens:  # the same id again is the same screen
            self.add(req.entity_id, req.name, config, ca.EntityOrigin.CREATED)
        return {"entity": self.entity(req.entity_id)}

    def configure_entity(self, req, ctx):
        screen = self.screen(req.entity_id)
        screen.configuration.CopyFrom(ca.to_struct(parse_config(ca.from_struct(req.configuration))))
        screen.updated_at.GetCurrentTime()
        return {"entity": self.entity(req.entity_id)}

    def get_entity_status(self, req, ctx):
        self.screen(req.entity_id)
        return {"status": self.status(req.entity_id)}

    def destroy_entity(self, req, ctx):
        self.screen(req.entity_id)
        del self.screens[req.entity_id]
        self.flows.drop_entity(req.entity_id)

    def list_entities(self, req, ctx):
        return {"entities": [self.entity(i) for i in sorted(self.screens)]}

    # -- flows: a screen only receives HLS H.264 / AAC
    def check(self, req) -> None:
        self.screen(req.target_entity_id)
        if req.role != ca.ConnectionRole.RECEIVER:
            raise ca.RpcError(ca.Code.FAILED_PRECONDITION, f'screen "{req.target_entity_id}" only receives media')
        if ca.format_name(req.format) not in [ca.format_name(f) for f in ACCEPTS]:
            plays = " and ".join(ca.format_name(f) for f in ACCEPTS)
            raise ca.RpcError(ca.Code.FAILED_PRECONDITION,
                              f'screen "{req.target_entity_id}" plays only {plays}, not {ca.format_name(req.format)}')

    def address(self, req) -> str:
        host = ca.from_struct(self.screens[req.target_entity_id].configuration)["host"] or "127.0.0.1"
        return f"cast://{host}:8009/{req.target_entity_id}/{req.connection_id}"

    def report_flow(self, status: ca.FlowStatus) -> None:
        entities = {c.entity_id for c in self.flows.connections_of(status.flow_id)} & self.screens.keys()
        self.events.status(flows=[status], entities=[self.status(e) for e in sorted(entities)])

    # -- discovery: simulates finding a screen on the network (as mDNS would)
    async def on_start(self):
        name = os.environ.get("CAST_SCREEN_DISCOVER", "Living room TV").strip()
        if not name:
            return
        await asyncio.sleep(0.3)
        entity_id = f"{self.name}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        if entity_id not in self.screens:
            self.add(entity_id, name, {"host": "", "volume": 50}, ca.EntityOrigin.DISCOVERED)
        self.events.report(ca.ENTITIES_CHANGED_EVENT, f'found screen "{name}" on the network', entity_id=entity_id)


if __name__ == "__main__":
    ca.run(CastScreen())

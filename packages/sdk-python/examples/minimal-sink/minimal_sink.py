"""minimal-sink: the smallest useful Python module, a sink that "records" RTSP H.264 video.

Run by the orchestrator (module.yaml), which puts the SDK on PYTHONPATH.
"""

import callassistant as ca

ACCEPTS = [ca.fmt("video", "rtsp", "h264")]


class Recorder(ca.Module):
    version, description = "0.1.0", "A minimal sink written on the Python SDK"
    capabilities = [ca.capability("recorder", ca.EntityKind.SINK, inputs=ACCEPTS, description="Records video")]

    def __init__(self):
        self.recorders = {}  # entity id -> name
        self.flows = ca.FlowTable(self.check, self.address, on_change=lambda s: self.events.status(flows=[s]))
        self.flows.attach(self)  # ConnectEntities, StartFlow, ... come from the table

    def entity(self, entity_id):
        if entity_id not in self.recorders:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'no recorder "{entity_id}"')
        state = ca.EntityState.ACTIVE if self.flows.is_active(entity_id) else ca.EntityState.READY
        return ca.Entity(id=entity_id, entity_type="recorder", kind=ca.EntityKind.SINK,
                         name=self.recorders[entity_id], state=state)

    def create_entity(self, req, ctx):
        self.recorders[req.entity_id] = req.name or req.entity_id
        self.log.info("recorder created", entity=req.entity_id)
        return {"entity": self.entity(req.entity_id)}

    def list_entities(self, req, ctx):
        return {"entities": [self.entity(i) for i in self.recorders]}

    def get_entity_status(self, req, ctx):
        return {"status": {"entity_id": req.entity_id, "state": self.entity(req.entity_id).state}}

    def destroy_entity(self, req, ctx):
        self.entity(req.entity_id)
        del self.recorders[req.entity_id]
        self.flows.drop_entity(req.entity_id)

    def check(self, req):
        self.entity(req.target_entity_id)
        if req.role != ca.ConnectionRole.RECEIVER or ca.format_name(req.format) != "video/rtsp/h264":
            raise ca.RpcError(ca.Code.FAILED_PRECONDITION, "a recorder only receives video/rtsp/h264")

    def address(self, req):
        return f"rtsp://127.0.0.1:8554/record/{req.connection_id}"


if __name__ == "__main__":
    ca.run(Recorder())

"""A module process for test_process.py: logs on every HealthCheck, blocks its event loop on
request, reports an event once started."""

import time

import callassistant as ca


class Fixture(ca.Module):
    name, version = "fixture", "0.0.1"

    def health_check(self, req, ctx):
        self.log.info("health checked " + "x" * 200)
        return super().health_check(req, ctx)

    def create_entity(self, req, ctx):
        if req.entity_id == "block":
            time.sleep(30)  # a handler that blocks the event loop
        return {"entity": {"id": req.entity_id}}

    async def on_start(self):
        await self.events.report("fixture.started")

    def on_shutdown(self, reason):
        self.log.info("on_shutdown ran")


if __name__ == "__main__":
    ca.run(Fixture())

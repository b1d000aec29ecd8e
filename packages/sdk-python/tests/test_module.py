"""A module served in-process on a loopback port, called over real gRPC: default
ModuleService, handlers (plain and coroutine), RpcError mapping, trace context, health,
commands and Shutdown."""

import asyncio
import threading
import unittest

import grpc
from google.protobuf import duration_pb2

import callassistant as ca
from callassistant.v1 import (
    entity_pb2,
    entity_pb2_grpc,
    event_pb2,
    module_pb2,
    module_pb2_grpc,
    pipeline_pb2,
    pipeline_pb2_grpc,
    resources_pb2,
)
from tests.fake_orchestrator import FakeOrchestrator, free_port, wait_for

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"


class Sample(ca.Module):
    version, description = "1.2.3", "a test module"
    capabilities = [ca.capability("thing", "sink", inputs=[ca.fmt("video", "hls", "h264")], config_schema={"type": "object"})]
    config_schema = {"type": "object", "properties": {"level": {"type": "integer"}}}
    requires_config = True

    def __init__(self):
        self.configured = []
        self.reloads = 0
        self.stopped_with = None
        self.things = {}

    def on_configure(self, config, revision):
        if config.get("level") == -1:
            raise ca.RpcError(ca.Code.INVALID_ARGUMENT, "configuration.level: must not be negative")
        self.configured.append((config, revision))

    async def on_reload(self):
        self.reloads += 1

    def on_shutdown(self, reason):
        self.stopped_with = reason

    # A plain function answering a message.
    def get_entity_status(self, req, ctx):
        if req.entity_id not in self.things:
            raise ca.RpcError(ca.Code.NOT_FOUND, f'no thing "{req.entity_id}"')
        return entity_pb2.GetEntityStatusResponse(status=resources_pb2.EntityStatus(entity_id=req.entity_id))

    # A coroutine answering a dict, with a Struct field, reporting an event while handled.
    async def create_entity(self, req, ctx):
        if req.entity_id == "boom":
            raise KeyError("boom")
        if req.entity_id == "bad-answer":
            return {"entity": {"colour": "red"}}
        config = ca.from_struct(req.configuration)
        self.things[req.entity_id] = config
        await self.events.report("thing.created", entity_id=req.entity_id, data={"trace": ctx.trace_id})
        loop = asyncio.get_running_loop()
        # Reported after the call was answered: no trace.
        loop.call_later(0.1, lambda: self.events.report("thing.later"))
        return {"entity": {"id": req.entity_id, "configuration": {**config, "traceparent": ctx.traceparent}}}

    def list_entities(self, req, ctx):
        return None  # an empty answer


class ModuleTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.orch = await FakeOrchestrator().start()
        self.lines = []
        self.module = Sample()
        self.port = free_port()
        env = {
            "GRPC_PORT": str(self.port),
            "MODULE_NAME": "sample",
            "ORCHESTRATOR_ADDRESS": self.orch.address,
            "MODULE_TOKEN": "secret",
        }
        await ca.serve(self.module, environ=env, own_process=False, stop_timeout=1, log=self.lines.append)
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.port}")
        self.mod = module_pb2_grpc.ModuleServiceStub(self.channel)
        self.ent = entity_pb2_grpc.EntityServiceStub(self.channel)
        self.pipe = pipeline_pb2_grpc.PipelineServiceStub(self.channel)

    async def asyncTearDown(self):
        await self.channel.close()
        await asyncio.wait_for(self.module.stop("test over"), 5)
        await self.orch.stop()

    async def assertCode(self, call, code, pattern):
        with self.assertRaises(grpc.aio.AioRpcError) as caught:
            await call
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        self.assertRegex(caught.exception.details(), pattern)

    async def test_register_module_from_the_class(self):
        reg = await self.mod.RegisterModule(module_pb2.RegisterModuleRequest())
        self.assertEqual((reg.info.name, reg.info.version, reg.info.description), ("sample", "1.2.3", "a test module"))
        self.assertTrue(reg.info.sdk.startswith("callassistant-sdk-python/"))
        self.assertEqual(reg.capabilities[0].kind, ca.EntityKind.SINK)
        self.assertEqual(ca.format_name(reg.capabilities[0].inputs[0]), "video/hls/h264")
        self.assertEqual(ca.from_struct(reg.config_schema)["properties"], {"level": {"type": "integer"}})
        self.assertTrue(reg.requires_config)
        self.assertTrue(any(line == f"<6>listening on 127.0.0.1:{self.port}" for line in self.lines), self.lines)

    async def test_configure_and_health(self):
        health = await self.mod.HealthCheck(module_pb2.HealthCheckRequest())
        self.assertEqual(health.state, ca.HealthState.WAITING_FOR_CONFIG)
        config = ca.to_struct({"level": 3})
        answer = await self.mod.Configure(module_pb2.ConfigureRequest(config=config, revision=7))
        self.assertEqual(answer.state, ca.HealthState.READY)
        self.assertEqual(self.module.configured, [({"level": 3}, 7)])
        self.assertEqual(self.module.config, {"level": 3})
        # A rejected configuration keeps the previous one.
        await self.assertCode(
            self.mod.Configure(module_pb2.ConfigureRequest(config=ca.to_struct({"level": -1}), revision=8)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "must not be negative",
        )
        self.assertEqual(self.module.config, {"level": 3})
        # The module sets its health: HealthCheck says so and the orchestrator is told.
        self.module.set_health(ca.HealthState.DEGRADED, "camera unplugged")
        health = await self.mod.HealthCheck(module_pb2.HealthCheckRequest())
        self.assertEqual((health.state, health.message), (ca.HealthState.DEGRADED, "camera unplugged"))
        status = await wait_for(lambda: self.orch.of_kind("status"), what="the status report")
        self.assertEqual(status[-1].status.state, resources_pb2.HEALTH_STATE_DEGRADED)
        self.module.set_health(None)
        self.assertEqual((await self.mod.HealthCheck(module_pb2.HealthCheckRequest())).state, ca.HealthState.READY)

    async def test_handlers_and_errors(self):
        created = await self.ent.CreateEntity(
            entity_pb2.CreateEntityRequest(entity_id="t1", configuration=ca.to_struct({"size": 4}))
        )
        self.assertEqual(created.entity.id, "t1")
        self.assertEqual(ca.from_struct(created.entity.configuration)["size"], 4)
        status = await self.ent.GetEntityStatus(entity_pb2.GetEntityStatusRequest(entity_id="t1"))
        self.assertEqual(status.status.entity_id, "t1")
        self.assertEqual(len((await self.ent.ListEntities(entity_pb2.ListEntitiesRequest())).entities), 0)
        await self.assertCode(
            self.ent.GetEntityStatus(entity_pb2.GetEntityStatusRequest(entity_id="t2")),
            grpc.StatusCode.NOT_FOUND,
            '^no thing "t2"$',
        )
        await self.assertCode(
            self.ent.CreateEntity(entity_pb2.CreateEntityRequest(entity_id="boom")),
            grpc.StatusCode.INTERNAL,
            "internal error in CreateEntity: KeyError",
        )
        await self.assertCode(
            self.ent.CreateEntity(entity_pb2.CreateEntityRequest(entity_id="bad-answer")),
            grpc.StatusCode.INTERNAL,
            'Entity has no field "colour"',
        )
        self.assertTrue(any(line.startswith("<3>internal error in CreateEntity: Traceback") for line in self.lines))
        await self.assertCode(
            self.ent.DestroyEntity(entity_pb2.DestroyEntityRequest(entity_id="t1")),
            grpc.StatusCode.UNIMPLEMENTED,
            "EntityService.DestroyEntity is not implemented by module sample",
        )
        await self.assertCode(
            self.pipe.StartFlow(pipeline_pb2.StartFlowRequest(flow_id="f")),
            grpc.StatusCode.UNIMPLEMENTED,
            "PipelineService.StartFlow",
        )

    async def test_trace_context_reaches_the_handler_and_its_events(self):
        created = await self.ent.CreateEntity(
            entity_pb2.CreateEntityRequest(entity_id="t1"), metadata=(("traceparent", CALLER),)
        )
        traceparent = ca.from_struct(created.entity.configuration)["traceparent"]
        parsed = ca.parse_traceparent(traceparent)
        self.assertEqual(parsed.trace_id, CALLER_TRACE, "the caller's trace continues")
        self.assertNotEqual(parsed.span_id, "b7ad6b7169203331", "in a span of its own")
        events = await wait_for(lambda: len(self.orch.of_kind("event")) >= 2 and self.orch.of_kind("event"), what="events")
        during, later = events[0].event, events[1].event
        self.assertEqual(during.type, "thing.created")
        self.assertEqual(during.traceparent, traceparent)
        self.assertEqual(ca.from_struct(during.data), {"trace": CALLER_TRACE})
        self.assertEqual((later.type, later.traceparent), ("thing.later", ""))
        # Without a traceparent a call starts a trace of its own.
        again = await self.ent.CreateEntity(entity_pb2.CreateEntityRequest(entity_id="t2"))
        own = ca.parse_traceparent(ca.from_struct(again.entity.configuration)["traceparent"])
        self.assertNotEqual(own.trace_id, CALLER_TRACE)

    async def test_reports_from_another_thread(self):
        results = []

        def worker():
            future = self.module.events.report("from.thread", message="hello", severity="warning")
            results.append(future.result(5))

        thread = threading.Thread(target=worker)
        thread.start()
        await wait_for(lambda: results, what="the thread's report")
        thread.join()
        self.assertGreater(results[0], 0)
        sent = self.orch.of_kind("event")[-1].event
        self.assertEqual((sent.type, sent.severity), ("from.thread", resources_pb2.SEVERITY_WARNING))
        self.assertTrue(await self.module.events.metrics({"queue_depth": 3}))
        self.assertEqual(self.orch.of_kind("metrics")[-1].metrics.metrics[0].name, "queue_depth")

    async def command(self, **kind) -> event_pb2.CommandResult:
        await wait_for(lambda: self.orch.connected, what="the stream")
        command_id = f"c{len(self.orch.of_kind('command_result'))}"
        self.orch.send_command(event_pb2.Command(command_id=command_id, **kind))
        found = await wait_for(
            lambda: [m for m in self.orch.of_kind("command_result") if m.command_result.command_id == command_id],
            what=f"the result of {kind}",
        )
        return found[0].command_result

    async def test_commands(self):
        result = await self.command(set_log_level=event_pb2.SetLogLevelCommand(level="debug"))
        self.assertEqual((result.ok, result.message), (True, "log level is debug"))
        self.assertEqual(self.module.log.level, "debug")
        self.module.log.debug("now visible", n=1)
        self.assertIn("<7>now visible n=1", self.lines)
        result = await self.command(set_log_level=event_pb2.SetLogLevelCommand(level="loud"))
        self.assertFalse(result.ok)
        self.assertIn('unknown log level "loud"', result.message)
        result = await self.command(drain=event_pb2.DrainCommand())
        self.assertEqual((result.ok, result.message), (False, "this module does not support drain"))
        result = await self.command(reload=event_pb2.ReloadCommand())
        self.assertEqual((result.ok, self.module.reloads), (True, 1))

    async def test_shutdown_rpc_stops_the_module(self):
        request = module_pb2.ShutdownRequest(reason="test", grace_period=duration_pb2.Duration(seconds=2))
        await self.mod.Shutdown(request)
        await asyncio.wait_for(self.module.wait_stopped(), 5)
        self.assertEqual(self.module.stopped_with, "Shutdown requested: test")
        self.assertIn("<6>stopping: Shutdown requested: test", self.lines)
        with self.assertRaises(grpc.aio.AioRpcError):
            await self.mod.HealthCheck(module_pb2.HealthCheckRequest(), timeout=1)


class ServeErrorsTest(unittest.IsolatedAsyncioTestCase):
    async def test_bad_environment_raises_naming_the_variable(self):
        for env, message in [
            ({}, "GRPC_PORT is not set"),
            ({"GRPC_PORT": "http"}, 'GRPC_PORT="http" is not a port number'),
            ({"GRPC_PORT": "70000"}, 'GRPC_PORT="70000" is not a port number'),
            ({"GRPC_PORT": "5000", "GRPC_TLS_CERT": "/x.pem"}, "GRPC_TLS_CERT and GRPC_TLS_KEY go together"),
            ({"GRPC_PORT": "5000", "GRPC_TLS_CERT": "/no/x.pem", "GRPC_TLS_KEY": "/no/k.pem"}, "cannot read the TLS"),
        ]:
            with self.subTest(env=env):
                lines = []
                with self.assertRaisesRegex(ca.ModuleEnvError, message):
                    await ca.serve(Sample(), environ=env, own_process=False, log=lines.append)
                self.assertTrue(lines and lines[0].startswith("<3>"), lines)

    async def test_port_in_use(self):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            with self.assertRaisesRegex(RuntimeError, f"cannot listen on 127.0.0.1:{port}"):
                await ca.serve(Sample(), environ={"GRPC_PORT": str(port)}, own_process=False, log=lambda line: None)

    async def test_unary_transport_and_no_orchestrator(self):
        orch = await FakeOrchestrator().start()
        try:
            module = Sample()
            env = {"GRPC_PORT": str(free_port()), "ORCHESTRATOR_ADDRESS": orch.address, "MODULE_TOKEN": "secret"}
            await ca.serve(module, environ=env, own_process=False, report_transport="unary", log=lambda line: None)
            self.assertGreater(await module.events.report("unary.event"), 0)
            self.assertEqual(orch.unary[0][1].type, "unary.event")
            self.assertEqual(orch.messages, [])
            await module.stop()
            # Without ORCHESTRATOR_ADDRESS reports are not sent, once said.
            lines = []
            alone = Sample()
            await ca.serve(alone, environ={"GRPC_PORT": str(free_port())}, own_process=False, log=lines.append)
            self.assertIsNone(await alone.events.report("nowhere"))
            self.assertFalse(await alone.events.status())
            self.assertEqual(sum("ORCHESTRATOR_ADDRESS is not set" in line for line in lines), 1)
            await alone.stop()
        finally:
            await orch.stop()


if __name__ == "__main__":
    unittest.main()

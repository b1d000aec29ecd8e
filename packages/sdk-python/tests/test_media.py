"""Media status in the Python SDK: MediaMeter's figures, `events.media` and FlowMeters
to a real EventService (media-only status reports at 1 Hz while a flow is started), and
ReestablishConnection: UNIMPLEMENTED unless the module provides it."""

import asyncio
import unittest

import grpc

import callassistant as ca
from callassistant.v1 import pipeline_pb2, pipeline_pb2_grpc
from tests.fake_orchestrator import FakeOrchestrator, free_port, wait_for


class Clock:
    def __init__(self, now=1_000.0):
        self.now = now

    def __call__(self):
        return self.now


def ms(ts) -> int:
    return ts.ToMilliseconds()


class MediaMeterTest(unittest.TestCase):
    def test_frames_bytes_rates_stalls(self):
        clock = Clock()
        m = ca.MediaMeter("c1", ca.MediaSide.SENT, codec="h264", now=clock)
        fresh = m.stats()
        self.assertEqual((fresh.frames, fresh.fps), (0, 0))
        self.assertFalse(fresh.HasField("last_frame_at"))
        for _ in range(100):  # 25 fps of 5000-byte frames for 4 s
            clock.now += 0.04
            m.frames(1, 5000)
        m.size(1280, 720)
        s = m.stats()
        self.assertEqual((s.connection_id, s.side, s.codec), ("c1", ca.MediaSide.SENT, "h264"))
        self.assertEqual((s.frames, s.bytes), (100, 500_000))
        self.assertAlmostEqual(s.fps, 25, delta=1)
        self.assertAlmostEqual(s.bitrate_kbps, 1000, delta=40)
        self.assertEqual(ms(s.first_frame_at), 1_000_040)
        self.assertEqual(ms(s.last_frame_at), 1_004_000)
        self.assertEqual((s.width, s.height, s.stalls), (1280, 720, 0))
        clock.now += 3
        quiet = m.stats()
        self.assertEqual((quiet.fps, quiet.bitrate_kbps, quiet.stalls), (0, 0, 1))
        clock.now += 5
        self.assertEqual(m.stats().stalls, 1, "one gap is one stall")
        clock.now += 1
        m.frames()
        clock.now += 1
        m.frames()
        self.assertEqual(m.stats().stalls, 1, "a 1 s gap is no stall")

    def test_totals_baseline_restarts_reset(self):
        clock = Clock()
        m = ca.MediaMeter("c1", ca.MediaSide.RECEIVED, now=clock)
        m.baseline(500, 40_000)  # another flow's frames of a shared stream
        clock.now += 0.5
        m.totals(510, 41_000)
        clock.now += 0.5
        m.totals(530, 43_000)
        self.assertEqual((m.stats().frames, m.stats().bytes), (30, 3_000))
        m.totals(5, 400)  # the process behind the counter restarted
        m.restarted()
        s = m.stats()
        self.assertEqual((s.frames, s.bytes, s.restarts), (35, 3_400, 1))
        m.dropped_total(3)
        m.dropped_total(7)
        m.dropped(2)
        self.assertEqual(m.stats().frames_dropped, 9)
        m.baseline(0, 0, 20)  # drops before this flow are not its
        m.dropped_total(21)
        self.assertEqual(m.stats().frames_dropped, 10)
        clock.now += 1
        m.reset()
        s = m.stats()
        self.assertEqual((s.frames, s.restarts), (0, 0))
        self.assertEqual(ms(s.started_at), 1_002_000)

    def test_latency_and_bad_input(self):
        m = ca.MediaMeter("c1", ca.MediaSide.PRESENTED)
        for i in range(1, 101):
            m.latency(i, ca.LatencySource.PIXEL_CLOCK)
        m.latency(float("nan"), ca.LatencySource.PIXEL_CLOCK)
        s = m.stats()
        self.assertEqual((s.latency_ms, s.latency_p95_ms), (96, 96))
        self.assertEqual(s.latency_source, ca.LatencySource.PIXEL_CLOCK)
        with self.assertRaisesRegex(ValueError, "connection_id"):
            ca.MediaMeter("", ca.MediaSide.SENT)
        with self.assertRaisesRegex(ValueError, "side"):
            ca.MediaMeter("c", 0)


class Media(ca.Module):
    name, version = "media-test", "1.0.0"

    def __init__(self, reestablish: bool):
        self.media = ca.FlowMeters(self, refresh=self.count, every=0.2)
        self.counted = 0
        self.asked = []
        if reestablish:
            self.reestablish_connection = self._reestablish

    def count(self):
        self.counted += 1

    def start_flow(self, req, ctx):
        self.media.meter(req.flow_id, "c-in", ca.MediaSide.RECEIVED, codec="h264")
        self.media.meter(req.flow_id, "c-out", ca.MediaSide.SENT, codec="mjpeg")
        self.media.start(req.flow_id)
        return {"status": {"flow_id": req.flow_id, "state": ca.FlowState.ACTIVE,
                           "media": self.media.stats(req.flow_id)}}

    def stop_flow(self, req, ctx):
        self.media.stop(req.flow_id)

    def _reestablish(self, req, ctx):
        if req.flow_id not in ("f1",):
            raise ca.RpcError(ca.Code.NOT_FOUND, f'flow "{req.flow_id}" is not here')
        self.asked.append((req.flow_id, req.connection_id, req.reason))
        for m in self.media.meters(req.flow_id):
            m.restarted()
        return {"message": f"restarted {req.connection_id}"}


class FlowMetersTest(unittest.IsolatedAsyncioTestCase):
    async def serve(self, reestablish: bool):
        orch = await FakeOrchestrator().start()
        module = Media(reestablish)
        port = free_port()
        env = {"GRPC_PORT": str(port), "MODULE_NAME": "media-test",
               "ORCHESTRATOR_ADDRESS": orch.address, "MODULE_TOKEN": "secret"}
        await ca.serve(module, environ=env, own_process=False, stop_timeout=1, log=lambda _l: None)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

        async def cleanup():
            await channel.close()
            await asyncio.wait_for(module.stop("test over"), 5)
            await orch.stop()

        self.addAsyncCleanup(cleanup)
        return orch, module, pipeline_pb2_grpc.PipelineServiceStub(channel)

    def media_reports(self, orch):
        out = []
        for m in orch.messages:
            if m.HasField("status"):
                out.extend(f for f in m.status.flows if f.media)
        return out

    async def test_reports_at_1_hz_while_started_only(self):
        orch, module, pipe = await self.serve(False)
        res = await pipe.StartFlow(pipeline_pb2.StartFlowRequest(flow_id="f1", connection_ids=["c-in"]))
        self.assertEqual([(m.connection_id, m.side) for m in res.status.media],
                         [("c-in", ca.MediaSide.RECEIVED), ("c-out", ca.MediaSide.SENT)])
        module.media.meters("f1")[0].frames(3, 3000)
        await wait_for(lambda: len(self.media_reports(orch)) >= 2, 5, "two media reports")
        reports = self.media_reports(orch)
        first = reports[0]
        self.assertEqual(first.flow_id, "f1")
        self.assertEqual(first.state, ca.FlowState.UNSPECIFIED, "media only: the state stands")
        self.assertEqual(reports[-1].media[0].frames, 3)
        self.assertGreater(module.counted, 1, "refresh runs before each report")
        await pipe.StopFlow(pipeline_pb2.StopFlowRequest(flow_id="f1"))
        await asyncio.sleep(0.3)
        count = len(self.media_reports(orch))
        await asyncio.sleep(0.6)
        self.assertEqual(len(self.media_reports(orch)), count, "no reports once stopped")
        self.assertEqual(module.media.stats("f1"), [])

    async def test_events_media_leaves_out_bad_entries(self):
        orch, module, _pipe = await self.serve(False)
        ok = await module.events.media("f2", [
            {"connection_id": "c", "side": ca.MediaSide.PRESENTED, "frames": 7},
            {"connection_id": "", "side": ca.MediaSide.SENT},
        ])
        self.assertTrue(ok)
        self.assertFalse(await module.events.media("f2", []))
        reports = self.media_reports(orch)
        self.assertEqual([(r.flow_id, [m.frames for m in r.media]) for r in reports], [("f2", [7])])

    async def test_reestablish_unimplemented_by_default(self):
        _orch, _module, pipe = await self.serve(False)
        with self.assertRaises(grpc.aio.AioRpcError) as caught:
            await pipe.ReestablishConnection(pipeline_pb2.ReestablishConnectionRequest(
                flow_id="f1", connection_id="c-in"))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    async def test_reestablish_handler(self):
        _orch, module, pipe = await self.serve(True)
        await pipe.StartFlow(pipeline_pb2.StartFlowRequest(flow_id="f1", connection_ids=["c-in"]))
        res = await pipe.ReestablishConnection(pipeline_pb2.ReestablishConnectionRequest(
            flow_id="f1", connection_id="c-in", reason="no new frame for 5 s"))
        self.assertEqual(res.message, "restarted c-in")
        self.assertEqual(module.asked, [("f1", "c-in", "no new frame for 5 s")])
        self.assertEqual(module.media.stats("f1")[0].restarts, 1)
        with self.assertRaises(grpc.aio.AioRpcError) as caught:
            await pipe.ReestablishConnection(pipeline_pb2.ReestablishConnectionRequest(
                flow_id="nope", connection_id="c-in"))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main()

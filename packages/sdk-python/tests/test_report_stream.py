"""The Connect stream against a real EventService: sequence numbers, acks, resend after a
reconnect, heartbeats, commands, token refusal and the unary fallback."""

import asyncio
import unittest

import grpc

import callassistant as ca
from callassistant.v1 import event_pb2, resources_pb2
from tests.fake_orchestrator import FakeOrchestrator, wait_for


def event(type_: str) -> event_pb2.ReportEventRequest:
    return event_pb2.ReportEventRequest(type=type_)


class ConnectTransportTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.orch = await FakeOrchestrator().start()
        self.logs = []
        self.transports = []

    async def asyncTearDown(self):
        for t in self.transports:
            await t.close()
        await self.orch.stop()

    def transport(self, token="secret", **options) -> ca.ConnectTransport:
        options.setdefault("backoff_initial", 0.05)
        options.setdefault("backoff_max", 0.2)
        t = ca.ConnectTransport(self.orch.address, token, log=lambda level, line: self.logs.append(line), **options)
        self.transports.append(t)
        return t

    async def test_sequence_numbers_and_acks(self):
        t = self.transport()
        ids = [await t.report_event(event(f"e{i}")) for i in range(3)]
        await t.report_status(event_pb2.ReportStatusRequest(state=resources_pb2.HEALTH_STATE_READY))
        # Every message has a sequence number from 1 up, heartbeats included.
        sequences = [m.sequence for m in self.orch.messages]
        self.assertEqual(sequences, list(range(1, len(sequences) + 1)))
        self.assertEqual(len(self.orch.of_kind("heartbeat")), 1, "one heartbeat when the stream opens")
        # A report completes with its ack, an event with the id the orchestrator gave it.
        events = self.orch.of_kind("event")
        self.assertEqual([e.event.type for e in events], ["e0", "e1", "e2"])
        self.assertEqual(ids, [self.orch.event_ids[e.sequence] for e in events])
        self.assertEqual(t.pending, 0)
        self.assertTrue(all(a == "Bearer secret" for a in self.orch.authorizations))

    async def test_resend_after_reconnect_with_first_sequence_numbers(self):
        t = self.transport()
        t.start()
        await wait_for(lambda: self.orch.connected, what="the stream")
        self.orch.ack = False
        sent = [asyncio.ensure_future(t.report_event(event(f"lost{i}"))) for i in range(3)]
        await wait_for(lambda: len(self.orch.of_kind("event")) == 3, what="3 events received")
        first = [m.sequence for m in self.orch.of_kind("event")]
        self.assertEqual(t.pending, 3)
        # The stream breaks before the acks: everything is sent again, in order.
        self.orch.ack = True
        self.orch.drop()
        ids = await asyncio.wait_for(asyncio.gather(*sent), 5)
        self.assertEqual(self.orch.streams, 2)
        self.assertEqual(t.connects, 2)
        resent = [m.sequence for m in self.orch.of_kind("event")[3:]]
        self.assertEqual(resent, first, "the same sequence numbers, in order")
        self.assertEqual(ids, [self.orch.event_ids[s] for s in first])
        self.assertTrue(any("reconnecting in" in line and "3 report(s) to resend" in line for line in self.logs), self.logs)
        # Afterwards new reports get higher numbers than anything before.
        await t.report_event(event("after"))
        self.assertGreater(self.orch.of_kind("event")[-1].sequence, max(m.sequence for m in self.orch.messages[:-1]))

    async def test_reconnects_with_backoff_while_the_orchestrator_is_away(self):
        t = self.transport()
        t.start()
        await wait_for(lambda: self.orch.connected, what="the stream")
        address = self.orch.address
        await self.orch.stop()
        report = asyncio.ensure_future(t.report_event(event("while-away")))
        await asyncio.sleep(0.5)
        self.assertFalse(report.done())
        attempts = t.connects
        self.assertGreater(attempts, 2, "it keeps trying")
        # The orchestrator comes back on the same address: the report gets through.
        port = int(address.rsplit(":", 1)[1])
        self.orch.server = grpc.aio.server()
        from callassistant.v1 import event_pb2_grpc

        event_pb2_grpc.add_EventServiceServicer_to_server(self.orch, self.orch.server)
        self.orch.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.orch.server.start()
        self.assertGreater(await asyncio.wait_for(report, 5), 0)
        self.assertEqual(self.orch.of_kind("event")[-1].event.type, "while-away")

    async def test_heartbeats(self):
        t = self.transport(heartbeat=0.05)
        t.start()
        await wait_for(lambda: len(self.orch.of_kind("heartbeat")) >= 5, what="5 heartbeats")
        self.assertTrue(t.connected)

    async def test_default_heartbeat_is_within_the_orchestrators_10_s(self):
        t = self.transport()
        self.assertLessEqual(t._heartbeat, 10)

    async def test_refused_token_fails_the_reports(self):
        t = self.transport(token="stolen")
        with self.assertRaises(ca.RpcError) as caught:
            await asyncio.wait_for(t.report_event(event("x")), 5)
        self.assertEqual(caught.exception.code, ca.Code.PERMISSION_DENIED)
        t2 = self.transport(token="")
        with self.assertRaises(ca.RpcError) as caught:
            await asyncio.wait_for(t2.report_event(event("x")), 5)
        self.assertEqual(caught.exception.code, ca.Code.UNAUTHENTICATED)
        self.assertEqual(self.orch.messages, [])

    async def test_ack_error_fails_that_report(self):
        t = self.transport()
        t.start()
        await wait_for(lambda: self.orch.connected, what="the stream")
        self.orch.ack = False
        report = asyncio.ensure_future(t.report_event(event("too-fast")))
        await wait_for(lambda: self.orch.of_kind("event"), what="the event")
        seq = self.orch.of_kind("event")[0].sequence
        self.orch._outbox.put_nowait(
            event_pb2.ConnectResponse(ack=event_pb2.Ack(sequence=seq, error="RESOURCE_EXHAUSTED: rate limit"))
        )
        with self.assertRaises(ca.RpcError) as caught:
            await asyncio.wait_for(report, 5)
        self.assertEqual((caught.exception.code, caught.exception.message), (ca.Code.RESOURCE_EXHAUSTED, "rate limit"))

    async def test_ack_timeout_keeps_the_report_for_resending(self):
        t = self.transport(ack_timeout=0.2)
        t.start()
        await wait_for(lambda: self.orch.connected, what="the stream")
        self.orch.ack = False
        with self.assertRaises(ca.RpcError) as caught:
            await t.report_event(event("slow"))
        self.assertEqual(caught.exception.code, ca.Code.DEADLINE_EXCEEDED)
        self.assertIn("kept for resending", caught.exception.message)
        self.assertEqual(t.pending, 1)

    async def test_unary_fallback_when_connect_is_unimplemented(self):
        await self.orch.stop()
        self.orch = await FakeOrchestrator(connect=False).start()
        t = self.transport()
        event_id = await asyncio.wait_for(t.report_event(event("old-orchestrator")), 5)
        await t.report_status(event_pb2.ReportStatusRequest(state=resources_pb2.HEALTH_STATE_READY))
        await t.report_metrics(event_pb2.ReportMetricsRequest(metrics=[resources_pb2.Metric(name="m", value=1)]))
        self.assertTrue(t.unary)
        self.assertGreater(event_id, 0)
        self.assertEqual([m for m, _ in self.orch.unary], ["ReportEvent", "ReportStatus", "ReportMetrics"])
        self.assertEqual(self.orch.unary[0][1].type, "old-orchestrator")
        self.assertTrue(any("unary calls" in line for line in self.logs), self.logs)

    async def test_close_fails_what_waits(self):
        t = self.transport()
        t.start()
        await wait_for(lambda: self.orch.connected, what="the stream")
        self.orch.ack = False
        report = asyncio.ensure_future(t.report_event(event("never-acked")))
        await wait_for(lambda: self.orch.of_kind("event"), what="the event")
        await t.close()
        with self.assertRaises(ca.RpcError) as caught:
            await report
        self.assertEqual(caught.exception.code, ca.Code.CANCELLED)


if __name__ == "__main__":
    unittest.main()

"""Struct <-> dict, messages built from dicts, RpcError and the log line format."""

import datetime
import unittest

import callassistant as ca
from callassistant.sdk_log import Logger, format_line
from callassistant.v1 import entity_pb2, event_pb2, media_pb2, resources_pb2


class StructTest(unittest.TestCase):
    def test_round_trip_keeps_json_values(self):
        data = {"n": 20, "x": 1.5, "big": -3, "s": "a", "b": True, "none": None, "list": [1, "two", {"k": [False]}],
                "nested": {"deep": {"v": 0}}}
        self.assertEqual(ca.from_struct(ca.to_struct(data)), data)
        self.assertIsInstance(ca.from_struct(ca.to_struct({"n": 20}))["n"], int, "whole numbers come back as int")
        self.assertEqual(ca.from_struct(None), {})
        self.assertEqual(ca.to_struct(None), ca.to_struct({}))

    def test_not_json(self):
        with self.assertRaisesRegex(ValueError, "expected a JSON object"):
            ca.to_struct([1, 2])
        with self.assertRaisesRegex(ValueError, "not a JSON object"):
            ca.to_struct({"when": datetime.datetime.now()})


class BuildTest(unittest.TestCase):
    def test_dicts_with_struct_map_repeated_and_timestamp(self):
        when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
        response = ca.build(entity_pb2.CreateEntityResponse, {
            "entity": {
                "id": "tv", "kind": ca.EntityKind.SINK, "configuration": {"volume": 20},
                "status": {"entity_id": "tv", "metrics": {"fps": 29.5}}, "created_at": when,
            }
        })
        self.assertEqual(response.entity.kind, media_pb2.ENTITY_KIND_SINK)
        self.assertEqual(ca.from_struct(response.entity.configuration), {"volume": 20})
        self.assertEqual(response.entity.status.metrics["fps"], 29.5)
        self.assertEqual(response.entity.created_at.seconds, int(when.timestamp()))
        listed = ca.build(entity_pb2.ListEntitiesResponse, {"entities": [{"id": "a"}, resources_pb2.Entity(id="b")]})
        self.assertEqual([e.id for e in listed.entities], ["a", "b"])
        self.assertEqual(ca.build(entity_pb2.DestroyEntityResponse, None), entity_pb2.DestroyEntityResponse())

    def test_bad_input_names_the_problem(self):
        with self.assertRaisesRegex(ValueError, 'Entity has no field "colour"'):
            ca.build(resources_pb2.Entity, {"colour": "red"})
        with self.assertRaisesRegex(TypeError, "expected callassistant.v1.Entity, got callassistant.v1.Connection"):
            ca.build(resources_pb2.Entity, resources_pb2.Connection())
        with self.assertRaisesRegex(TypeError, 'field "entities" takes a list'):
            ca.build(entity_pb2.ListEntitiesResponse, {"entities": "abc"})

    def test_capability_and_formats(self):
        cap = ca.capability("conv", "converter", transforms=[{
            "input": ca.fmt("video", "rtsp", "h264"), "output": ca.fmt("video", "hls", "h264"),
            "cost": {"cpu": 1, "latency_ms": 500},
        }], config_schema={"type": "object"})
        self.assertEqual(cap.kind, media_pb2.ENTITY_KIND_CONVERTER)
        self.assertEqual(cap.transforms[0].cost.latency_ms, 500)
        self.assertEqual(ca.format_name(cap.transforms[0].output), "video/hls/h264")
        with self.assertRaisesRegex(ValueError, 'unknown media type "smell"'):
            ca.fmt("smell", "x", "y")
        with self.assertRaisesRegex(ValueError, 'unknown entity kind "toaster"'):
            ca.capability("x", "toaster")

    def test_quality_presets(self):
        q = ca.resolve_quality(resources_pb2.QualityProfile(preset=resources_pb2.QUALITY_PRESET_LOW, framerate=10))
        self.assertEqual((q.max_bitrate_kbps, q.width, q.framerate), (500, 640, 10))
        self.assertEqual(ca.resolve_quality(None).max_bitrate_kbps, 1500, "unset starts at MEDIUM")


class RpcErrorTest(unittest.TestCase):
    def test_codes(self):
        self.assertEqual(ca.RpcError("NOT_FOUND", "x").code, ca.Code.NOT_FOUND)
        with self.assertRaisesRegex(ValueError, 'unknown gRPC status code "NOPE"'):
            ca.RpcError("NOPE", "x")
        with self.assertRaises(TypeError):
            ca.RpcError(5, "x")
        err = ca.RpcError.from_ack_error("RESOURCE_EXHAUSTED: too many: slow down")
        self.assertEqual((err.code, err.message), (ca.Code.RESOURCE_EXHAUSTED, "too many: slow down"))
        self.assertEqual(ca.RpcError.from_ack_error("garbled").code, ca.Code.UNKNOWN)


class LogTest(unittest.TestCase):
    def test_lines_carry_the_level_tag(self):
        lines = []
        log = Logger(write=lines.append)
        log.debug("hidden")
        log.info("started", port=5000, name="living room", empty="")
        log.warn("slow")
        log.error("failed\non two lines")
        self.assertEqual(lines, [
            '<6>started port=5000 name="living room" empty=""',
            "<4>slow",
            "<3>failed\\non two lines",
        ])
        log.level = "debug"
        log.debug("shown")
        self.assertEqual(lines[-1], "<7>shown")
        with self.assertRaisesRegex(ValueError, 'unknown log level "loud"'):
            log.level = "loud"
        self.assertEqual(format_line("warn", "x", {"data": {"a": 1}}), '<4>x data="{\\"a\\": 1}"')

    def test_a_failing_writer_never_raises(self):
        def broken(line):
            raise BrokenPipeError(32, "Broken pipe")

        Logger(write=broken).error("nobody reads this")


class EventRequestTest(unittest.TestCase):
    def test_severity_names(self):
        from callassistant.reporter import _severity

        self.assertEqual(_severity("critical"), resources_pb2.SEVERITY_CRITICAL)
        self.assertEqual(_severity(ca.Severity.DEBUG), resources_pb2.SEVERITY_DEBUG)
        with self.assertRaisesRegex(ValueError, 'unknown severity "loud"'):
            _severity("loud")
        self.assertIsNotNone(event_pb2.ReportEventRequest)


if __name__ == "__main__":
    unittest.main()

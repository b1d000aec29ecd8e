"""Unit tests of the camera module's pure parts: the pixel clock, configurations, URLs.
Run: cd modules/camera && python3 -m unittest camera_units_test"""
import unittest

import callassistant as ca
import camera_config
import pixel_clock
import rtsp_probe


class PixelClockTest(unittest.TestCase):
    def test_round_trip_and_check(self):
        for ms in (0, 1, 2**32 - 1, 1_796_243_402_526):
            levels = [255 if white else 0 for white in pixel_clock.cells(ms)]
            self.assertEqual(pixel_clock.decode(levels), ms % 2**32)
        levels = [255 if w else 0 for w in pixel_clock.cells(123456)]
        levels[10] = 255 - levels[10]  # one flipped bit fails the check
        self.assertEqual(pixel_clock.decode(levels), -1)
        self.assertEqual(pixel_clock.decode([128] * pixel_clock.CELLS), -1, "no contrast")
        self.assertEqual(pixel_clock.decode([0, 255]), -1, "wrong length")


class ConfigTest(unittest.TestCase):
    def test_defaults_and_errors(self):
        c = camera_config.parse_test_pattern({})
        self.assertEqual((c["resolution"], c["fps"], c["video_codec"]), ("1280x720", 25, "h264"))
        for raw, field in (({"fps": 0}, "fps"), ({"fps": True}, "fps"),
                           ({"resolution": "4k"}, "resolution"), ({"nope": 1}, "nope"),
                           ({"password": "x"}, "user"), ({"video_codec": "vp8"}, "video_codec")):
            with self.assertRaises(ca.RpcError) as err:
                camera_config.parse_test_pattern(raw)
            self.assertIn(field, str(err.exception))

    def test_rtsp_camera_url(self):
        self.assertEqual(camera_config.parse_rtsp_camera({"url": " rtsp://h/x "})["url"],
                         "rtsp://h/x")
        for url in ("http://h/x", "rtsp:///x", "", "rtsp://h:99999/x"):
            with self.assertRaises(ca.RpcError):
                camera_config.parse_rtsp_camera({"url": url})
        with self.assertRaises(ca.RpcError) as err:
            camera_config.parse_rtsp_camera({"url": "http://u:secret@h/x"})
        self.assertNotIn("secret", str(err.exception), "no password in the message")


class UrlTest(unittest.TestCase):
    def test_credentials_are_quoted_and_redacted(self):
        url = rtsp_probe.with_credentials("rtsp://h:554/s", "ad min", "p@ss:w/rd")
        self.assertEqual(url, "rtsp://ad%20min:p%40ss%3Aw%2Frd@h:554/s")
        self.assertEqual(rtsp_probe.redact(url), "rtsp://h:554/s")
        self.assertEqual(rtsp_probe.with_credentials("rtsp://a:b@h/s", "", ""), "rtsp://a:b@h/s")


if __name__ == "__main__":
    unittest.main()

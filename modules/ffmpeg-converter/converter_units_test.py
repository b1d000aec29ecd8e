"""Unit tests of the converter's pure parts: -progress parsing, playlist trimming, MJPEG
parts. Run: cd modules/ffmpeg-converter && python3 -m unittest converter_units_test"""
import asyncio
import os
import signal
import time
import unittest

import media_server
import mjpeg_hub
from ffmpeg_job import FfmpegJob
from ffmpeg_progress import ProgressParser

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:100
#EXTINF:0.5,
s100.ts
#EXTINF:0.5,
s101.ts
#EXT-X-DISCONTINUITY
#EXTINF:0.5,
s102.ts
#EXTINF:0.5,
s103.ts
#EXTINF:0.5,
s104.ts
"""


class ProgressTest(unittest.TestCase):
    def test_blocks(self):
        p = ProgressParser()
        lines = ["frame=25", "fps=24.9", "bitrate=1024.5kbits/s", "total_size=N/A",
                 "out_time_us=1000000", "speed=1.01x", "progress=continue"]
        out = [p.feed(line) for line in lines]
        self.assertEqual(out[:-1], [None] * 6)
        self.assertEqual((out[-1].frame, out[-1].fps, out[-1].bitrate_kbps, out[-1].total_size,
                          out[-1].out_time_ms, out[-1].ended), (25, 24.9, 1024.5, 0, 1000, False))
        self.assertTrue(p.feed("progress=end").ended)
        self.assertIsNone(p.feed("garbage without equals"))


class PlaylistTest(unittest.TestCase):
    def test_live_edge_keeps_the_last_seconds(self):
        self.assertEqual(media_server.playlist_seconds(PLAYLIST), 2.5)
        edge = media_server.live_edge(PLAYLIST, 1.5)
        self.assertIn("#EXT-X-MEDIA-SEQUENCE:102", edge)
        self.assertEqual(media_server.playlist_segments(edge), 3)
        self.assertIn("#EXT-X-DISCONTINUITY\n#EXTINF:0.5,\ns102.ts", edge)
        self.assertNotIn("s101.ts", edge)
        self.assertEqual(media_server.live_edge(PLAYLIST, 10), PLAYLIST, "nothing to drop")


class MjpegTest(unittest.TestCase):
    def test_parts_round_trip(self):
        hub = mjpeg_hub.MjpegHub()
        frames = [b"\xff\xd8one\xff\xd9", b"\xff\xd8two\xff\xd9"]

        async def consume():  # a reader belongs to the loop it is made on
            reader = asyncio.StreamReader()
            for f in frames:
                reader.feed_data(f"--ffmpeg\r\nContent-type: image/jpeg\r\nContent-length: "
                                 f"{len(f)}\r\n\r\n".encode() + f + b"\r\n")
            reader.feed_eof()
            await hub.consume(reader)

        asyncio.run(consume())
        self.assertEqual((hub.frames, hub.frame), (2, frames[1]))
        self.assertTrue(mjpeg_hub.part(b"x").startswith(b"--frame\r\nContent-Type: image/jpeg"))


def lavfi_command():
    """A real ffmpeg on a small generated picture: cheap, needs no camera."""
    return ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-re", "-f",
            "lavfi", "-i", "testsrc=size=64x64:rate=25", "-f", "null", "-"]


class FfmpegJobTest(unittest.IsolatedAsyncioTestCase):
    async def wait(self, ok, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ok():
                return
            await asyncio.sleep(0.05)
        self.fail(f"{what} not within {timeout} s")

    async def test_restart_asked_is_at_once_and_counted(self):
        events = []
        job = FfmpegJob("t", lavfi_command, on_event=lambda k, m: events.append((k, m)),
                        stall_timeout=30)
        job.start()
        try:
            await self.wait(lambda: job.frames >= 10, "10 frames")
            pid = job.pid
            os.kill(pid, signal.SIGSTOP)  # stalled: only the asked restart can help here
            await asyncio.sleep(0.5)
            frames = job.frames
            self.assertEqual(await job.restart("no new frame for 5 s"), pid)
            await self.wait(lambda: job.pid and job.pid != pid, "a new ffmpeg")
            await self.wait(lambda: job.frames >= frames + 10, "frames again")
            self.assertEqual(job.restarts, 1)
            self.assertIn(("restarting", "restart asked: no new frame for 5 s; restarting now"),
                          events)
        finally:
            await job.stop()
        self.assertEqual(await job.restart("nothing runs"), 0, "no child: nothing to kill")


if __name__ == "__main__":
    unittest.main()


class PlaylistHoldTest(unittest.TestCase):
    """A playlist asked for before ffmpeg wrote enough is held, not refused: the player gets
    it the moment it is ready (a restarted converter is played sooner); 404 in the end."""

    def test_held_until_ready_then_404_when_never(self):
        import tempfile
        import urllib.request
        import urllib.error

        async def scenario():
            directory = tempfile.mkdtemp()
            server = media_server.MediaServer("127.0.0.1", 0, "127.0.0.1")
            server.add("c1", media_server.Served(kind="hls", directory=directory))
            port = await server.start()
            url = f"http://127.0.0.1:{port}/hls/c1/index.m3u8"
            loop = asyncio.get_running_loop()

            def get():
                t0 = time.monotonic()
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        return r.status, r.read().decode(), time.monotonic() - t0
                except urllib.error.HTTPError as e:
                    return e.code, e.read().decode(), time.monotonic() - t0

            try:
                pending = loop.run_in_executor(None, get)
                await asyncio.sleep(0.3)
                with open(os.path.join(directory, "index.m3u8"), "w") as f:
                    f.write(PLAYLIST)
                status, body, waited = await pending
                self.assertEqual(status, 200, body)
                self.assertGreaterEqual(waited, 0.25, "answered before the playlist was ready")
                self.assertLess(waited, 1.0, "not answered as soon as it was ready")
                os.remove(os.path.join(directory, "index.m3u8"))
                old = media_server.PLAYLIST_WAIT_S
                media_server.PLAYLIST_WAIT_S = 0.3
                try:
                    status, body, waited = await loop.run_in_executor(None, get)
                finally:
                    media_server.PLAYLIST_WAIT_S = old
                self.assertEqual(status, 404)
                self.assertIn("less than 1.4 s", body)
                self.assertGreaterEqual(waited, 0.25)
            finally:
                await server.close()

        asyncio.run(scenario())

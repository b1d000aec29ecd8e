"""Unit tests of the converter's pure parts: -progress parsing, playlist trimming, MJPEG
parts. Run: cd modules/ffmpeg-converter && python3 -m unittest converter_units_test"""
import asyncio
import json
import os
import signal
import time
import unittest

import ffmpeg_spawn
import media_server
import mjpeg_hub
import resume
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

    def test_served_playlist_announces_the_segment_being_written(self):
        served = media_server.served_playlist(PLAYLIST)
        # 1.4 s: two complete 0.5 s segments and the one ffmpeg writes now.
        self.assertIn("#EXT-X-MEDIA-SEQUENCE:103", served)
        self.assertTrue(served.endswith("s103.ts\n#EXTINF:0.5,\ns104.ts\n#EXTINF:0.500000,\n"
                                        "s105.ts\n"), served)
        self.assertEqual(media_server.next_segment(PLAYLIST), ("s105.ts", 0.5))

    def test_served_playlist_waits_for_enough(self):
        head = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n"
        one = head + "#EXTINF:0.48,\ns7.ts\n"
        self.assertIsNone(media_server.served_playlist(one), "0.96 s with the coming one")
        two = one + "#EXTINF:0.48,\ns8.ts\n"
        self.assertEqual(media_server.playlist_segments(media_server.served_playlist(two)), 3)
        # A camera with 2 s between key frames: one complete segment and the coming one.
        slow = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.0,\ns7.ts\n"
        self.assertTrue(media_server.served_playlist(slow).endswith("s7.ts\n#EXTINF:2.000000,\n"
                                                                    "s8.ts\n"))
        self.assertIsNone(media_server.served_playlist(head), "nothing written yet")

    def test_segments_named_otherwise_are_not_announced(self):
        other = PLAYLIST.replace("s10", "seg-")
        self.assertIsNone(media_server.next_segment(other))
        served = media_server.served_playlist(other)
        self.assertEqual(media_server.playlist_segments(served), 3, "1.4 s of complete ones")
        self.assertTrue(served.endswith("seg-4.ts\n"))


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


    async def test_adopted_child_is_the_first_run(self):
        spawned = ffmpeg_spawn.spawn(lavfi_command())
        cleared = []
        job = FfmpegJob("t", lavfi_command, before_start=lambda: cleared.append(1),
                        adopt=spawned, stall_timeout=30)
        job.start()
        try:
            await self.wait(lambda: job.frames >= 10, "10 frames from the adopted ffmpeg")
            self.assertEqual(job.pid, spawned.process.pid)
            self.assertTrue(job.adopted)
            self.assertEqual(cleared, [], "an adopted run's directory is not cleared")
            # It is supervised like any other: killed, it is started again (by the job).
            os.kill(spawned.process.pid, signal.SIGKILL)
            await self.wait(lambda: job.pid and job.pid != spawned.process.pid, "a new ffmpeg")
            self.assertEqual(cleared, [1])
        finally:
            await job.stop()
        self.assertIsNotNone(spawned.process.poll(), "the adopted child was reaped")


RECORD = {"kind": "hls", "input_url": "rtsp://127.0.0.1:9/nothing", "video_codec": "h264",
          "audio_codec": "aac", "quality": {"width": 0, "height": 0, "fps": 0}}


class ResumeTest(unittest.TestCase):
    """The running conversions written down, and started again after a crash."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, resume.FILE_NAME)

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_remembered_while_running_forgotten_when_stopped(self):
        book = resume.Resume(self.dir)
        book.remember("e1", RECORD)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600, "URLs may carry passwords")
        with open(self.path, encoding="utf-8") as f:
            self.assertEqual(json.load(f), {"e1": RECORD})
        book.forget("e1")
        with open(self.path, encoding="utf-8") as f:
            self.assertEqual(json.load(f), {})
        self.assertEqual(resume.Resume("").records, {}, "no data directory: nothing kept")

    def test_started_at_once_claimed_by_the_same_settings_only(self):
        crashed = resume.Resume(self.dir)
        crashed.remember("e1", RECORD)
        crashed.remember("e2", {**RECORD, "kind": "mjpeg"})
        later = resume.Resume(self.dir)
        later.start_saved()
        self.assertEqual(sorted(later.started), ["e1", "e2"])
        first = later.started["e1"][1].process
        self.assertTrue(os.path.isdir(ffmpeg_spawn.hls_directory("e1")))
        claimed = later.claim("e1", dict(RECORD))
        self.assertEqual(claimed.process, first)
        other = later.started["e2"][1].process
        self.assertIsNone(later.claim("e2", {**RECORD, "kind": "mjpeg", "input_url": "x"}),
                          "asked with another input: not the resumed one")
        self.assertIsNotNone(other.poll(), "and that one was killed")
        self.assertIsNone(later.claim("e3", RECORD), "nothing resumed for e3")
        first.kill()
        first.wait()
        first.stderr.close()
        os.close(claimed.progress_fd)

    def test_unclaimed_are_stopped_and_forgotten(self):
        resume.Resume(self.dir).remember("e1", RECORD)
        later = resume.Resume(self.dir)
        later.start_saved()
        process = later.started["e1"][1].process
        self.assertEqual(later.drop_unclaimed(), ["e1"])
        self.assertIsNotNone(process.poll())
        self.assertFalse(os.path.exists(ffmpeg_spawn.hls_directory("e1")))
        with open(self.path, encoding="utf-8") as f:
            self.assertEqual(json.load(f), {})

    def test_a_bad_file_resumes_nothing_and_says_why(self):
        with open(self.path, "w", encoding="utf-8") as f:
            f.write("{not json")
        later = resume.Resume(self.dir)
        later.start_saved()
        self.assertEqual(later.started, {})
        problems = later.take_problems()
        self.assertEqual(len(problems), 1)
        self.assertIn("unreadable, nothing resumed", problems[0])
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump({"e1": {"kind": "hls"}}, f)  # no input_url
        later = resume.Resume(self.dir)
        later.start_saved()
        self.assertEqual(later.started, {})
        self.assertIn('converter "e1" not resumed', later.take_problems()[0])


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

    def test_announced_segment_held_until_written_others_404_at_once(self):
        import tempfile
        import urllib.request
        import urllib.error

        async def scenario():
            directory = tempfile.mkdtemp()
            with open(os.path.join(directory, "index.m3u8"), "w") as f:
                f.write(PLAYLIST)
            server = media_server.MediaServer("127.0.0.1", 0, "127.0.0.1")
            server.add("c1", media_server.Served(kind="hls", directory=directory))
            port = await server.start()
            loop = asyncio.get_running_loop()

            def get(name):
                t0 = time.monotonic()
                url = f"http://127.0.0.1:{port}/hls/c1/{name}"
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        return r.status, r.read(), time.monotonic() - t0
                except urllib.error.HTTPError as e:
                    return e.code, e.read(), time.monotonic() - t0

            try:
                status, body, _ = await loop.run_in_executor(None, get, "index.m3u8")
                self.assertIn(b"s105.ts", body, "the segment being written is announced")
                pending = loop.run_in_executor(None, get, "s105.ts")
                await asyncio.sleep(0.3)
                with open(os.path.join(directory, "s105.ts"), "wb") as f:
                    f.write(b"\x47" * 188)
                status, body, waited = await pending
                self.assertEqual((status, len(body)), (200, 188))
                self.assertGreaterEqual(waited, 0.25, "answered before ffmpeg wrote it")
                self.assertLess(waited, 1.0, "not answered as soon as it was written")
                status, body, waited = await loop.run_in_executor(None, get, "s99.ts")
                self.assertEqual(status, 404, "a segment gone or never listed")
                self.assertLess(waited, 0.2, "held although not the one being written")
                # ffmpeg never finishes it (killed): 404 after twice its length and a second.
                status, body, waited = await loop.run_in_executor(None, get, "s106.ts")
                self.assertEqual(status, 404)
                self.assertLess(waited, 0.2, "s105 was not listed as written: s106 is not next")
                with open(os.path.join(directory, "index.m3u8"), "a") as f:
                    f.write("#EXTINF:0.5,\ns105.ts\n")
                status, body, waited = await loop.run_in_executor(None, get, "s106.ts")
                self.assertEqual(status, 404)
                self.assertGreaterEqual(waited, 1.9)
                self.assertLess(waited, 3.0)
            finally:
                await server.close()

        asyncio.run(scenario())


if __name__ == "__main__":
    unittest.main()

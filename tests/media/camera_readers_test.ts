/**
 * The camera's shared stream and its readers: a real camera module (GStreamer test
 * pattern, gst-rtsp-server) and real ffmpeg readers.
 *
 * - Every reader keeps playing while others leave and join: a watching reader runs
 *   throughout; each round a transcoding reader (as the converter's MJPEG is) plays and is
 *   stopped as a remuxing one (the converter's HLS) joins. With gst-rtsp-server's shared
 *   media and its defaults (UDP allowed, rate control) the stream froze for every reader in
 *   one such round in 5-10 on this machine; the watcher must see frames in every round.
 * - A stream that freezes all the same is served afresh by the camera itself: an
 *   `rtsp_camera` relaying a test pattern of another process, stopped with SIGSTOP while a
 *   reader reads the relay; within seconds the camera closes the reader's connection
 *   (`camera.restarted`), and once the source runs again a new reader plays.
 */
import assert from "node:assert/strict";
import { ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { ok, waitReady } from "../flows/flow_helpers.ts";
import { events, MEDIA_ENV, PYTHON } from "./media_helpers.ts";

const ROUNDS = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "camera: readers leaving and joining, a frozen stream served afresh",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const orch = await startOrchestrator({
      modules: `${ROOT}modules`,
      env: MEDIA_ENV,
    });
    const dir = Deno.makeTempDirSync({ prefix: "camera-readers-" });
    const children: Deno.ChildProcess[] = [];
    const ffmpeg = (args: string[]) => {
      const p = new Deno.Command("ffmpeg", {
        args: ["-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", ...args],
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(p);
      return p;
    };
    const stop = (p: Deno.ChildProcess, signal: Deno.Signal) => {
      try {
        p.kill(signal);
      } catch {
        // Exited already.
      }
    };
    /** A reader that copies `url` to nothing, and its frame count. */
    const watch = (url: string, name: string) => {
      const progress = `${dir}/${name}.progress`;
      const process = ffmpeg(["-progress", progress, "-i", url, "-c", "copy", "-f", "null", "-"]);
      const frames = () => {
        try {
          const all = [...Deno.readTextFileSync(progress).matchAll(/frame=(\d+)/g)];
          return Number(all.at(-1)?.[1] ?? 0);
        } catch {
          return 0;
        }
      };
      return { process, frames };
    };
    /** Where the camera serves an entity (its status message says, "... on rtsp://..."). */
    const urlOf = async (id: string) => {
      const { entity } = await ok(orch.url, "GET", `/v1/entities/${id}`);
      return /on (rtsp:\/\/[^"\s;)]+)/.exec(entity.status.message)![1];
    };
    try {
      await waitReady(orch.url, ["camera"], 60_000);

      await t.step("every reader keeps playing while others leave and join", async () => {
        await ok(orch.url, "POST", "/v1/entities", {
          id: "cam",
          entityType: "test_pattern",
          configuration: { resolution: "1280x720", fps: 25, bitrate_kbps: 2000 },
        });
        const url = await urlOf("cam");
        const watcher = watch(url, "watcher");
        await waitFor(() => watcher.frames() >= 25, 10_000, "the watcher playing the camera");
        for (let round = 1; round <= ROUNDS; round++) {
          const transcoder = ffmpeg([
            ...["-i", url, "-an", "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "pipe:1"],
          ]);
          await sleep(2000);
          stop(transcoder, "SIGTERM");
          const remuxer = ffmpeg([
            ...["-i", url, "-map", "0:v:0", "-c:v", "copy", "-map", "0:a:0?", "-c:a", "aac"],
            ...["-f", "hls", "-hls_time", "0.25", "-hls_flags", "delete_segments"],
            ...["-hls_segment_filename", `${dir}/s%d.ts`, `${dir}/index.m3u8`],
          ]);
          const before = watcher.frames();
          await sleep(2500);
          const after = watcher.frames();
          // 2.5 s at 25 fps is ~60 frames (the progress file is written twice a second).
          assert.ok(
            after - before >= 30,
            `round ${round}: the watcher got ${after - before} frames in 2.5 s (a frozen stream)`,
          );
          stop(remuxer, "SIGKILL");
        }
        stop(watcher.process, "SIGKILL");
      });

      await t.step("a frozen stream is served afresh by the camera itself", async () => {
        const source = new Deno.Command(PYTHON, {
          args: ["test_pattern.py", "--port", "0", "--size", "640x360", "--no-audio"],
          cwd: `${ROOT}modules/camera`,
          stdin: "piped", // it ends with its standard input
          stdout: "piped",
          stderr: "null",
        }).spawn();
        children.push(source);
        // It prints its URL on its first line.
        const out = source.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let printed = "";
        while (!printed.includes("\n")) {
          const { value, done } = await out.read();
          if (done) throw new Error("the test pattern ended before printing its URL");
          printed += value;
        }
        out.cancel();
        const sourceUrl = printed.split("\n")[0].trim();
        await ok(orch.url, "POST", "/v1/entities", {
          id: "relay",
          entityType: "rtsp_camera",
          configuration: { url: sourceUrl },
        });
        await waitFor(
          async () =>
            (await ok(orch.url, "GET", "/v1/entities/relay")).entity.state ===
              "ENTITY_STATE_READY",
          20_000,
          "the relay READY",
        );
        const reader = watch(await urlOf("relay"), "relay-reader");
        await waitFor(() => reader.frames() >= 25, 15_000, "the reader playing the relay");
        source.kill("SIGSTOP"); // the camera's stream freezes; its reader stays connected
        const stoppedAt = Date.now();
        const exited = await Promise.race([reader.process.status, sleep(12_000)]);
        assert.ok(exited, "the camera did not close its frozen reader's connection in 12 s");
        const waited = Date.now() - stoppedAt;
        assert.ok(waited >= 2_500, `closed after ${waited} ms: before the 3 s of silence`);
        const restarted = await waitFor(
          async () =>
            (await events(orch.url, "camera.")).find((e) =>
              e.type === "camera.restarted" && e.entityId === "relay"
            ),
          5_000,
          "the camera.restarted event",
        );
        assert.match(String(restarted.message), /no frame for 3 s/);
        source.kill("SIGCONT");
        const again = watch(await urlOf("relay"), "relay-reader-2");
        await waitFor(() => again.frames() >= 25, 15_000, "a new reader playing the relay");
        await source.stdin.close();
      });
    } finally {
      for (const p of children) {
        stop(p, "SIGCONT");
        stop(p, "SIGKILL");
      }
      await Promise.all(children.map((p) => p.status));
      await orch.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/**
 * The README's commands against a real orchestrator running the example modules (hence in
 * tests/media/, which runs alone): every shell block that targets the running orchestrator
 * (`localhost:8080`, `$U`, `127.0.0.1:50051`) is cut into commands and run as written with
 * curl, jq (Debian's 1.6) and `buf curl` (npx), only the addresses moved to the test's
 * ports (and the example camera's address to the test pattern's RTSP stream). A command
 * must exit 0, jq must not fail, and no answer may be an error nobody
 * asked for. Streaming commands (`curl -N`, `follow=true`) must still stream after two
 * seconds (then they are stopped) and carry no error. Skipped, and counted: blocks with placeholders (`HOST`, `<name>`) and
 * grpcurl, which neither Debian 12 nor npm has (each grpcurl line has a `buf curl` twin).
 */
import assert from "node:assert/strict";
import { isAlive, ROOT, startOrchestrator, waitFor } from "../helpers/test_orchestrator.ts";
import { waitReady } from "../flows/flow_helpers.ts";

/** The ```sh blocks of a Markdown text. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Whether a block talks to the running orchestrator (and is not a template). */
export function targetsOrchestrator(block: string): boolean {
  return /localhost:8080|127\.0\.0\.1:8080|\$U\b|127\.0\.0\.1:50051/.test(block) &&
    !/\bHOST\b|<[a-z]+>/.test(block);
}

/** The commands of a block: continuation lines and quotes spanning lines joined, comments out. */
export function commandsOf(block: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const line of block.split("\n")) {
    if (current === "" && /^\s*(#|$)/.test(line)) continue;
    current += (current ? "\n" : "") + line;
    const quotes = (current.replace(/"[^"]*"/g, "").match(/'/g) ?? []).length;
    if (current.endsWith("\\") || quotes % 2 === 1) continue;
    out.push(current);
    current = "";
  }
  return out;
}

/** The example modules. */
const MODULES = [
  "camera",
  "web-screen",
  "ffmpeg-converter",
  "webrtc-bridge",
  "matrix-call",
  "cast-screen",
];

/** Commands whose error answer the README shows on purpose. */
const EXPECTED_ERRORS = [/\/v1\/modules\/nope/, /"fps":1000/];

const README = await Deno.readTextFile(`${ROOT}README.md`);

Deno.test("README commands: the extraction", () => {
  const blocks = shellBlocks(README).filter(targetsOrchestrator);
  assert.ok(blocks.length >= 5, `${blocks.length} blocks`);
  assert.deepEqual(commandsOf("a \\\n  b\n# c\nd '{\n}' | jq\n"), ["a \\\n  b", "d '{\n}' | jq"]);
  // Every grpcurl example has its buf curl twin.
  const grpcurl = (README.match(/^grpcurl /gm) ?? []).length;
  const buf = (README.match(/^npx @bufbuild\/buf@[\d.]+ curl /gm) ?? []).length;
  assert.ok(grpcurl > 0);
  assert.equal(buf, grpcurl, "one buf curl per grpcurl");
});

Deno.test({
  name: "README commands: every command for the running orchestrator runs as written",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const orch = await startOrchestrator({
      modules: `${ROOT}modules`,
      args: ["--seed", `${ROOT}modules/seed.yaml`],
      env: { CA_MEDIA_HOST: "127.0.0.1", CA_SCREEN_HTTP_PORT: "0", CA_CAMERA_RTSP_PORT: "0" },
    });
    const http = new URL(orch.url).host;
    const ran: string[] = [];
    try {
      await waitReady(
        orch.url,
        ["camera", "web-screen", "ffmpeg-converter", "webrtc-bridge"],
        90_000,
      );
      // "Your own camera" is the README's example RTSP camera on the reader's network;
      // here the test pattern's own RTSP stream stands in for it (its address now: the
      // README restarts the camera module before, which then serves on another port).
      const ownCamera = async () => (await waitFor(
        async () => {
          const res = await fetch(`${orch.url}/v1/entities/test-pattern`);
          const { entity } = await res.json();
          if (!/_(READY|ACTIVE)$/.test(entity?.state ?? "")) return undefined;
          return /rtsp:\/\/([^\s;)]+)/.exec(entity.status?.message ?? "")?.[1];
        },
        30_000,
        "the test pattern's RTSP address",
      ));
      const blocks = shellBlocks(README).filter(targetsOrchestrator);
      for (const block of blocks) {
        // Between blocks a reader reads: modules a block restarted or killed are back (READY
        // with a live process: a kill may not have been noticed yet).
        await waitFor(
          async () => {
            const byName = await waitReady(orch.url, MODULES, 60_000);
            return MODULES.every((m) => isAlive(byName[m].pid)) || undefined;
          },
          60_000,
          "every example module READY and alive",
        );
        for (const written of commandsOf(block)) {
          if (written.startsWith("grpcurl ")) continue;
          let command = written.replaceAll("localhost:8080", http)
            .replaceAll("127.0.0.1:8080", http).replaceAll("127.0.0.1:50051", orch.grpcAddress);
          if (command.includes("192.168.1.20")) {
            command = command.replaceAll("192.168.1.20:554/stream1", await ownCamera());
          }
          const streaming = /curl -s?N\b|follow=true/.test(command);
          const child = new Deno.Command("bash", {
            args: ["-c", command],
            env: { U: http, NO_COLOR: "1" },
            stdout: "piped",
            stderr: "piped",
            detached: true, // its own process group: a pipeline ends as a whole
          }).spawn();
          let stopped = false;
          const timer = setTimeout(() => {
            stopped = true;
            Deno.kill(-child.pid, "SIGTERM");
          }, streaming ? 2_000 : 120_000);
          const out = await child.output();
          clearTimeout(timer);
          const dec = new TextDecoder();
          const stdout = dec.decode(out.stdout);
          const stderr = dec.decode(out.stderr);
          const what = `${written}\n--- stdout:\n${stdout.slice(0, 2000)}\n--- stderr:\n${
            stderr.slice(0, 2000)
          }`;
          if (streaming) {
            // A stream stays open (until stopped here) and carries no error.
            assert.ok(stopped, `the stream stayed open: ${what}`);
          } else {
            assert.ok(!stopped, `finished within 120 s: ${what}`);
            assert.equal(out.code, 0, `exit code: ${what}`);
          }
          assert.doesNotMatch(stderr, /jq: error|compile error|parse error/, what);
          if (/^null$/m.test(stdout)) {
            // Show the answer jq was given (running the command again without jq).
            const raw = await new Deno.Command("bash", {
              args: ["-c", command.replace(/\|\s*jq[^|]*$/, "")],
              env: { U: http },
            }).output();
            assert.fail(`a field is missing: ${what}\n--- answer:\n${dec.decode(raw.stdout)}`);
          }
          if (!EXPECTED_ERRORS.some((re) => re.test(written))) {
            assert.doesNotMatch(
              stdout,
              /"code":\s*[1-9]\d*,\s*"message"|"code":\s*"[a-z_]+",\s*"message"/,
              `an error answer: ${what}`,
            );
          }
          ran.push(written.split("\n")[0]);
        }
      }
      assert.ok(ran.length >= 30, `${ran.length} commands ran`);
      assert.ok(ran.some((c) => c.startsWith("npx @bufbuild/buf")), "buf curl ran");
    } finally {
      await orch.stop();
    }
  },
});

/**
 * The shipped systemd unit (`deploy/call-assistant.service`) judged by systemd's own tool:
 * `systemd-analyze verify` finds nothing to say about it, `systemd-analyze security`
 * rates its exposure under 4.0 ("OK"), and its command line starts the real orchestrator.
 * Without systemd as PID 1 here, the unit is not started by systemd itself (see README).
 */
import assert from "node:assert/strict";
import { DENO } from "../helpers/processes.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";
import { waitFor } from "../helpers/wait.ts";

const UNIT = `${ROOT}deploy/call-assistant.service`;
const BINARY = "/usr/local/bin/call-assistant";

async function analyze(...args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("systemd-analyze", {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** A copy of the unit in a temporary directory, edited by `edit`; returns its path. */
async function unitCopy(dir: string, edit: (text: string) => string): Promise<string> {
  // verify checks that ExecStart's program exists: point it at an executable of ours.
  const program = `${dir}/call-assistant`;
  await Deno.writeTextFile(program, "#!/bin/sh\n");
  await Deno.chmod(program, 0o755);
  const path = `${dir}/call-assistant.service`;
  const text = await Deno.readTextFile(UNIT);
  assert.ok(text.includes(`ExecStart=${BINARY} `), "ExecStart runs the installed binary");
  await Deno.writeTextFile(
    path,
    edit(text.replace(`ExecStart=${BINARY} `, `ExecStart=${program} `)),
  );
  return path;
}

Deno.test("systemd unit: verify is clean, and would catch a mistake", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-unit-" });
  try {
    const good = await analyze("verify", await unitCopy(dir, (t) => t));
    assert.equal(good.code, 0, good.output);
    assert.deepEqual(good.output.split("\n").filter((l) => l.includes("call-assistant")), []);
    // The check can fail: a misspelt setting and a bad value are reported.
    const bad = await analyze(
      "verify",
      await unitCopy(
        dir,
        (t) => t.replace("ProtectHome=yes", "ProtectHome=sometimes\nProtectHom=yes"),
      ),
    );
    assert.match(bad.output, /ProtectHom/);
    assert.match(bad.output, /protect home value, ignoring: sometimes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemd unit: security exposure under 4.0, V8 keeps its W+X pages", async () => {
  const { code, output } = await analyze("security", "--offline=yes", UNIT);
  assert.equal(code, 0, output);
  const m = /Overall exposure level for call-assistant\.service: (\d+\.\d+) (\S+)/.exec(output);
  assert.ok(m, output);
  const score = Number(m[1]);
  assert.ok(score < 4.0, `exposure ${score} ${m[2]}`);
  assert.equal(m[2], "OK");
  const text = await Deno.readTextFile(UNIT);
  // The settings the hardening relies on, and the one that would break Deno.
  for (
    const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "StateDirectory=call-assistant",
      "SystemCallFilter=@system-service",
      "UMask=0027",
      "Wants=network-online.target",
      "After=network-online.target",
      "Delegate=yes",
    ]
  ) assert.ok(text.split("\n").includes(line), line);
  assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes/m);
});

Deno.test("systemd unit: its command line starts the orchestrator", async () => {
  const text = await Deno.readTextFile(UNIT);
  const exec = /^ExecStart=(\S+) (.*)$/m.exec(text);
  assert.ok(exec);
  assert.equal(exec[1], BINARY);
  const dir = await Deno.makeTempDir({ prefix: "ca-test-unit-run-" });
  await Deno.mkdir(`${dir}/modules`);
  // The unit's flags as written, the paths moved to a temporary directory and the
  // listeners to ports the kernel picks.
  const args = exec[2].replaceAll("/opt/call-assistant/modules", `${dir}/modules`)
    .replaceAll("/var/lib/call-assistant", `${dir}/data`).split(" ");
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-all",
      `${ROOT}main.ts`,
      ...args,
      "--grpc",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  try {
    await waitFor(() => stderr.includes("orchestrator listening"), 60_000, "listening");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
  }
  assert.equal(
    await Deno.stat(`${dir}/data/logs/orchestrator.log`).then(() => true, () => false),
    false,
    "--log-files 0: the journal keeps the log",
  );
  await Deno.remove(dir, { recursive: true });
});

/**
 * The command line as an operator meets it: bad flags and busy ports give one clear line
 * and a non-zero exit (no stack trace); `version`, `--help` and `validate` work.
 */
import assert from "node:assert/strict";
import { ROOT } from "../helpers/test_orchestrator.ts";

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}main.ts`, ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function oneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `exactly one line, got:\n${stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

Deno.test("unknown flag: one line, exit 2", async () => {
  const r = await cli("run", "--bogus");
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /unknown option '--bogus'/);
});

Deno.test("unknown command and flags of another command are rejected", async () => {
  let r = await cli("launch");
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /unknown command "launch"/);
  r = await cli("validate", "--dev");
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /"--dev" is not valid for "validate"/);
});

Deno.test("bad address, log format, event rate and modules directory are named", async () => {
  let r = await cli("run", "--grpc", "nowhere");
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /--grpc: expected host:port/);
  r = await cli("run", "--http", "127.0.0.1:99999");
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /--http: expected host:port/);
  r = await cli("run", "--log-format", "xml", "--modules", `${ROOT}modules`);
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /--log-format: expected one of text, json, got "xml"/);
  for (const rate of ["fast", "0", "100/0", "-5", "1.5"]) {
    r = await cli("run", `--event-rate=${rate}`, "--modules", `${ROOT}modules`);
    assert.equal(r.code, 2);
    oneLineError(
      r.stderr,
      new RegExp(`--event-rate: expected .* like 100 or 100/200, got "${rate}"`),
    );
  }
  r = await cli("run", "--modules", "/no/such/dir");
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /--modules \/no\/such\/dir: no such directory/);
  // Beyond loopback the auth token is needed: an empty token file is one clear line.
  const data = await Deno.makeTempDir();
  await Deno.writeTextFile(`${data}/auth-token`, "");
  r = await cli("run", "--http", "0.0.0.0:0", "--modules", `${ROOT}modules`, "--data", data);
  assert.equal(r.code, 2);
  oneLineError(r.stderr, /the auth token file .*auth-token is empty/);
  await Deno.remove(data, { recursive: true });
});

Deno.test("a port in use: one line, exit 3, nothing started", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const data = await Deno.makeTempDir();
  try {
    for (const flag of ["--http", "--grpc"]) {
      const other = flag === "--http" ? "--grpc" : "--http";
      const r = await cli(
        "run",
        "--modules",
        `${ROOT}tests/fixtures/no-command`,
        "--data",
        data,
        flag,
        `127.0.0.1:${port}`,
        other,
        "127.0.0.1:0",
      );
      assert.equal(r.code, 3, r.stderr);
      const kind = flag === "--http" ? "HTTP" : "gRPC";
      oneLineError(r.stderr, new RegExp(`cannot listen for ${kind} on 127\\.0\\.0\\.1:${port}`));
    }
  } finally {
    busy.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("--config supplies flags; a bad key is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "modules: x\ncolour: blue\n");
    const r = await cli("run", "--config", `${dir}/bad.yaml`);
    assert.equal(r.code, 2);
    oneLineError(r.stderr, /unknown key "colour"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("version and help", async () => {
  const v = await cli("version");
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^call-assistant \d+\.\d+\.\d+ \(deno 2\.9\.3\)\n$/);
  const h = await cli("--help");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: call-assistant \[run\] \[flags\]/);
  const rh = await cli("run", "--help");
  assert.match(rh.stdout, /--log-format FORMAT/);
  const vh = await cli("validate", "--help");
  assert.match(vh.stdout, /Checks every module.yaml/);
});

Deno.test("validate reports each problem with file and line, exit 1; clean tree exit 0", async () => {
  const bad = await cli("validate", "--modules", `${ROOT}tests/fixtures`);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /FAIL bad-yaml: .*bad-yaml\/module\.yaml:\d+: YAML syntax error/);
  assert.match(bad.stdout, /FAIL no-command: .*command: missing required field "command"/);
  assert.match(bad.stdout, /ok {3}missing-binary/);
  const good = await cli("validate", "--modules", `${ROOT}modules`);
  assert.equal(good.code, 0, good.stdout);
  assert.match(good.stdout, /ok {3}camera/);
  assert.match(good.stdout, /ok {3}web-screen/);
});

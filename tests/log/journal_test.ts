/**
 * Logging under systemd: when stderr is the journal stream (`JOURNAL_STREAM` names its
 * device and inode), every stderr line carries its level as a `<N>` prefix, text lines
 * leave the time to the journal, and no log file of our own is written. A child that only
 * inherited `JOURNAL_STREAM` (its stderr elsewhere) logs as usual.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../src/log/logger.ts";
import { stderrIsJournal } from "../../src/log/journal.ts";
import { DENO } from "../helpers/processes.ts";
import { ROOT } from "../helpers/test_orchestrator.ts";
import { waitFor } from "../helpers/wait.ts";

/** A writer collecting lines, for the logger. */
function collector() {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  return {
    lines,
    write(p: Uint8Array): Promise<number> {
      lines.push(...decoder.decode(p).split("\n").filter(Boolean));
      return Promise.resolve(p.length);
    },
  };
}

Deno.test("journal: <N> level prefixes, no time in text lines; JSON lines prefixed too", async () => {
  const text = collector();
  const logger = createLogger("text", "debug", { stderr: text, journal: true });
  logger.debug("d");
  logger.info("i", { module: "camera" });
  logger.warn("w");
  logger.error("e");
  await logger.flush();
  assert.deepEqual(text.lines, [
    "<7>DEBUG d",
    "<6>INFO  i module=camera",
    "<4>WARN  w",
    "<3>ERROR e",
  ]);
  const json = collector();
  const jsonLogger = createLogger("json", "info", { stderr: json, journal: true });
  jsonLogger.warn("careful");
  await jsonLogger.flush();
  assert.match(json.lines[0], /^<4>\{"time":"[^"]+","level":"warn","msg":"careful"\}$/);
  // Without the journal, nothing changes.
  const plain = collector();
  const plainLogger = createLogger("text", "info", { stderr: plain });
  plainLogger.info("i");
  await plainLogger.flush();
  assert.match(plain.lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}i$/);
});

Deno.test("journal: detection compares JOURNAL_STREAM with stderr itself", () => {
  assert.equal(stderrIsJournal(undefined), false);
  assert.equal(stderrIsJournal("garbage"), false);
  const stat = Deno.statSync("/proc/self/fd/2");
  assert.equal(stderrIsJournal(`${stat.dev}:${stat.ino}`), true);
  assert.equal(stderrIsJournal(`${stat.dev}:${(stat.ino ?? 0) + 1}`), false);
});

/**
 * Runs the real orchestrator with stderr to a file and JOURNAL_STREAM set to that file's
 * device:inode (`journal`) or to something else; returns its stderr lines and whether it
 * wrote a log file.
 */
async function runOrchestrator(journal: boolean): Promise<{ lines: string[]; logFile: boolean }> {
  const dir = await Deno.makeTempDir({ prefix: "ca-test-journal-" });
  await Deno.mkdir(`${dir}/modules`);
  const err = `${dir}/stderr`;
  await Deno.writeTextFile(err, "");
  const stat = await Deno.stat(err);
  const main = `${ROOT}main.ts`;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `exec "$DENO" run --allow-all "$MAIN" run --modules "$DIR/modules" --data "$DIR/data" ` +
      `--grpc 127.0.0.1:0 --http 127.0.0.1:0 2>>"$ERR"`,
    ],
    env: {
      DENO,
      MAIN: main,
      DIR: dir,
      ERR: err,
      JOURNAL_STREAM: journal ? `${stat.dev}:${stat.ino}` : "1:1",
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(
      async () => (await Deno.readTextFile(err)).includes("orchestrator listening"),
      60_000,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
  const lines = (await Deno.readTextFile(err)).split("\n").filter(Boolean);
  const logFile = await Deno.stat(`${dir}/data/logs/orchestrator.log`).then(
    () => true,
    () => false,
  );
  await Deno.remove(dir, { recursive: true });
  return { lines, logFile };
}

Deno.test("journal: the orchestrator under a journal stream logs there only, with levels", async () => {
  const journal = await runOrchestrator(true);
  const listening = journal.lines.find((l) => l.includes("orchestrator listening"));
  assert.match(listening ?? "", /^<6>INFO {2}orchestrator listening /);
  assert.ok(journal.lines.every((l) => /^<[0-7]>/.test(l)), journal.lines.join("\n"));
  assert.equal(journal.logFile, false, "no log file of our own under the journal");
  // JOURNAL_STREAM inherited but stderr elsewhere: as before, with the time and the file.
  const inherited = await runOrchestrator(false);
  const line = inherited.lines.find((l) => l.includes("orchestrator listening"));
  assert.match(line ?? "", /^\d{4}-\d\d-\d\dT\S+Z INFO {2}orchestrator listening /);
  assert.equal(inherited.logFile, true);
});

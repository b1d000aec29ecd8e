/**
 * Whether the orchestrator's stderr is the systemd journal. systemd sets `JOURNAL_STREAM`
 * to the `device:inode` of the stream it connected to stderr/stdout; comparing it with
 * stderr itself (as sd_journal_stream_fd's documentation advises) tells a service's own
 * stderr from a child that merely inherited the variable with its stderr redirected.
 */

/** True when stderr is the journal stream named by `JOURNAL_STREAM`. */
export function stderrIsJournal(journalStream = Deno.env.get("JOURNAL_STREAM")): boolean {
  const m = /^(\d+):(\d+)$/.exec(journalStream ?? "");
  if (!m) return false;
  try {
    // /proc/self/fd/2 resolves to the stream itself (a socket under systemd).
    const stat = Deno.statSync("/proc/self/fd/2");
    return String(stat.dev) === m[1] && String(stat.ino) === m[2];
  } catch {
    return false;
  }
}

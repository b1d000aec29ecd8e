/**
 * Backups of the database: a rotating set of copies of the last good store
 * (`callassistant.db.backup.1` newest to `.3` oldest), made with SQLite's online backup
 * and checked before they replace an older one, and put back by `run --restore-backup`.
 */
import { backup, DatabaseSync } from "node:sqlite";

/** How many backups are kept. */
export const BACKUP_COUNT = 3;

/** The path of backup `n` (1 is the newest) of the database at `dbPath`. */
export function backupPath(dbPath: string, n: number): string {
  return `${dbPath}.backup.${n}`;
}

/** An existing backup. */
export interface BackupFile {
  path: string;
  /** When it was made (its modification time). */
  modified: Date;
}

/** The backups of `dbPath` that exist, newest first. */
export function existingBackups(dbPath: string): BackupFile[] {
  const found: BackupFile[] = [];
  for (let n = 1; n <= BACKUP_COUNT; n++) {
    const path = backupPath(dbPath, n);
    try {
      const stat = Deno.statSync(path);
      if (stat.isFile && stat.size > 0) found.push({ path, modified: stat.mtime ?? new Date(0) });
    } catch {
      // Not there.
    }
  }
  return found;
}

/**
 * What SQLite's integrity check finds wrong in the open database `db`: "" when it is
 * good, else the first problems, on one line.
 */
export function integrityProblems(db: DatabaseSync): string {
  const rows = db.prepare("PRAGMA integrity_check(5)").all() as { integrity_check: string }[];
  const problems = rows.map((r) => r.integrity_check).filter((p) => p !== "ok");
  return problems.join("; ").replace(/\s+/g, " ");
}

/** The integrity problems of the database file at `path` ("" when good). */
export function fileProblems(path: string): string {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    return integrityProblems(db);
  } catch (err) {
    return (err as Error).message;
  } finally {
    db?.close();
  }
}

function removeQuietly(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      Deno.removeSync(p);
    } catch {
      // Not there.
    }
  }
}

/**
 * Copies the live database `db` (the file `dbPath`) to backup 1, moving older backups
 * down and dropping the oldest. The copy is checked first: a damaged database never
 * replaces a good backup. Throws when the copy fails or is not good.
 */
export async function backupDatabase(db: DatabaseSync, dbPath: string): Promise<string> {
  const tmp = `${dbPath}.backup.tmp`;
  removeQuietly(tmp);
  try {
    await backup(db, tmp);
    Deno.chmodSync(tmp, 0o600);
    const problems = fileProblems(tmp);
    if (problems) throw new Error(`the copy is not good: ${problems}`);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  removeQuietly(backupPath(dbPath, BACKUP_COUNT));
  for (let n = BACKUP_COUNT - 1; n >= 1; n--) {
    try {
      Deno.renameSync(backupPath(dbPath, n), backupPath(dbPath, n + 1));
    } catch {
      // Fewer backups so far.
    }
  }
  Deno.renameSync(tmp, backupPath(dbPath, 1));
  return backupPath(dbPath, 1);
}

/** A restore that cannot be done: no backup, or none is good. */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestoreError";
  }
}

/** What a restore did. */
export interface Restored {
  /** The backup put in place. */
  from: string;
  /** Where the database that was there is kept, if there was one. */
  kept?: string;
}

/**
 * Puts the newest good backup in place of the database at `dbPath`; the file that was
 * there (and its WAL) is kept as `<db>.damaged-<time>`. Throws when no backup is good.
 */
export function restoreBackup(dbPath: string): Restored {
  const backups = existingBackups(dbPath);
  const good = backups.find((b) => fileProblems(b.path) === "");
  if (!good) {
    throw new RestoreError(
      backups.length === 0
        ? `cannot restore ${dbPath}: it has no backup (${backupPath(dbPath, 1)} and older)`
        : `cannot restore ${dbPath}: none of its backups is good (${
          backups.map((b) => b.path).join(", ")
        })`,
    );
  }
  let kept: string | undefined;
  try {
    Deno.statSync(dbPath);
    kept = `${dbPath}.damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    Deno.renameSync(dbPath, kept);
    for (const suffix of ["-wal", "-shm"]) {
      try {
        Deno.renameSync(`${dbPath}${suffix}`, `${kept}${suffix}`);
      } catch {
        // Not there.
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const tmp = `${dbPath}.restoring`;
  Deno.copyFileSync(good.path, tmp);
  Deno.chmodSync(tmp, 0o600);
  Deno.renameSync(tmp, dbPath);
  return { from: good.path, kept };
}

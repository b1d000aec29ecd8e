/**
 * The embedded database: one SQLite file in the data directory (Deno's built-in
 * `node:sqlite`), in WAL mode with `synchronous=FULL`, so a write that returned has
 * reached the disk and survives `kill -9` or a power cut.
 *
 * Areas keep their data in one of three generic shapes, or in tables of their own:
 * - `collection(name)`: JSON documents by id (desired entities, flows);
 * - `revisions(name)`: an append-only history of JSON values per key with optimistic
 *   concurrency (module configuration revisions);
 * - `migrate(area, steps)`: versioned SQL migrations for an area's own tables.
 *
 * Past 400 lines on purpose: the three shapes share one connection, its transactions and
 * the mapping of SQLite failures (disk full, damaged file) to clear errors.
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { Code, RpcError } from "@callassistant/rpc";
import { backupDatabase, existingBackups, integrityProblems } from "./backup.ts";

/** The database file name inside the data directory. */
export const STORE_FILE = "callassistant.db";

/** A stored document and when it was last written. */
export interface StoredDocument<T> {
  id: string;
  value: T;
  updatedAt: Date;
}

/** JSON documents by id within one named collection. */
export interface Collection<T> {
  /** The document `id`, or undefined. */
  get(id: string): T | undefined;
  /** Every document, sorted by id. */
  list(): StoredDocument<T>[];
  /** Inserts or replaces a document. */
  put(id: string, value: T): void;
  /** Removes a document; true when it existed. */
  delete(id: string): boolean;
  /** How many documents there are. */
  count(): number;
}

/** One revision of a value in a revision log. */
export interface Revision<T> {
  key: string;
  /** 1 for the first value of a key, then increasing by one. */
  revision: number;
  value: T;
  createdAt: Date;
  /** Who wrote it, e.g. "api", "dashboard". */
  author: string;
}

/** Thrown by `RevisionLog.append` when the key moved on since the caller read it. */
export class RevisionConflictError extends Error {
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly current: number,
  ) {
    super(
      `"${key}" is at revision ${current}, not ${expected}: it was changed meanwhile; ` +
        `read it again and retry with expected revision ${current}`,
    );
    this.name = "RevisionConflictError";
  }
}

/**
 * The database cannot be used because of the disk under it: full, an I/O error, read-only
 * or damaged. An RpcError, so callers answer UNAVAILABLE (HTTP 503), or DATA_LOSS for a
 * damaged file, with a message naming the file. A write that failed so stored nothing:
 * its transaction was rolled back, and the next write works once the cause is gone.
 */
export class StoreUnavailableError extends RpcError {
  constructor(code: Code, message: string) {
    super(code, message);
    this.name = "StoreUnavailableError";
  }
}

/** SQLite's messages for the disk's problems (node:sqlite gives no error codes). */
const DISK_PROBLEMS: { pattern: RegExp; code: Code; what: string; todo: string }[] = [
  {
    pattern: /database or disk is full/,
    code: Code.UNAVAILABLE,
    what: "the disk is full",
    todo: "free space on its filesystem, then retry",
  },
  {
    pattern: /disk I\/O error|unable to open database file/,
    code: Code.UNAVAILABLE,
    what: "the disk fails (I/O error)",
    todo: "check the disk and the system log, then retry",
  },
  {
    pattern: /readonly database/,
    code: Code.UNAVAILABLE,
    what: "it is read-only",
    todo: "make it and its directory writable by the orchestrator, then retry",
  },
  {
    pattern: /database disk image is malformed|file is not a database/,
    code: Code.DATA_LOSS,
    what: "it is damaged",
    todo: "stop the orchestrator and restore the backup (call-assistant run --restore-backup)",
  },
];

/** The StoreUnavailableError for an error of the disk under `path`; other errors as they are. */
function storeError(err: unknown, path: string): unknown {
  if (err instanceof StoreUnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const problem = DISK_PROBLEMS.find((p) => p.pattern.test(message));
  if (!problem) return err;
  return new StoreUnavailableError(
    problem.code,
    `the database ${path} cannot be used: ${problem.what} (SQLite: ${message}); ` +
      `${problem.todo}. Nothing of this request was stored.`,
  );
}

/** An append-only history of JSON values per key, with compare-and-set on the revision. */
export interface RevisionLog<T> {
  /** The newest revision of `key`, or undefined when it has none. */
  current(key: string): Revision<T> | undefined;
  /** Revisions of `key`, newest first, at most `limit` (default all). */
  history(key: string, limit?: number): Revision<T>[];
  /**
   * Stores `value` as the next revision of `key`. When `expectedRevision` is given it
   * must equal the current revision (0 when there is none), else RevisionConflictError.
   */
  append(
    key: string,
    value: T,
    options?: { expectedRevision?: number; author?: string },
  ): Revision<T>;
  /** Keys with at least one revision, sorted. */
  keys(): string[];
  /** Deletes all but the newest `keep` revisions of `key`; returns how many were deleted. */
  prune(key: string, keep: number): number;
}

/** Options of {@link Store.open}. */
export interface StoreOptions {
  /**
   * A backup is made once no write came for this long (but at least every ten such
   * periods while writes go on); default 60 000 ms, 0 for none (see `backup.ts`).
   */
  backupQuietMs?: number;
  /** Told when a scheduled backup fails; the older backups stay. */
  onBackupError?: (err: Error) => void;
}

/**
 * The database file cannot be used: it is damaged, empty, or missing while backups of it
 * exist. The message is one line naming the file and how to recover.
 */
export class StoreDamagedError extends Error {
  constructor(readonly path: string, what: string) {
    super(`the database ${path} ${what}; ${recovery(path)}`);
    this.name = "StoreDamagedError";
  }
}

/** How to recover a damaged database at `path`, from its newest backup if it has one. */
function recovery(path: string): string {
  const [newest] = existingBackups(path);
  const dataDir = path.slice(0, path.lastIndexOf("/")) || ".";
  return newest
    ? `restore its last good copy (${newest.path}, saved ${newest.modified.toISOString()}) ` +
      `with: call-assistant run --data ${dataDir} --restore-backup ` +
      `(the damaged file is kept beside it)`
    : `no backup of it exists: move it away (mv ${path} ${path}.damaged) to start with an ` +
      `empty store, losing its configurations, entities and flows`;
}

/** Creates an empty database at `path` (mode 0600), never leaving a 0-byte file there. */
function createDatabase(path: string): void {
  const tmp = `${path}.new`;
  for (const p of [tmp, `${tmp}-wal`, `${tmp}-shm`]) {
    try {
      Deno.removeSync(p);
    } catch {
      // Not there: no earlier attempt was cut short.
    }
  }
  // Created private before SQLite opens it; the WAL and shared-memory files inherit the
  // database file's permissions.
  Deno.writeFileSync(tmp, new Uint8Array(), { mode: 0o600 });
  const db = new DatabaseSync(tmp);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_versions (area TEXT PRIMARY KEY, version INTEGER NOT NULL)",
  );
  db.close();
  Deno.renameSync(tmp, path);
}

/** The database. Synchronous: every call returns once the data is on disk. */
export class Store {
  #depth = 0;
  /** When the first write since the last backup happened; 0 when there was none. */
  #dirtySince = 0;
  #lastWrite = 0;
  #backupTimer?: ReturnType<typeof setTimeout>;
  #backingUp?: Promise<string>;

  readonly #options: StoreOptions;

  private constructor(
    readonly db: DatabaseSync,
    readonly path: string,
    options: StoreOptions,
  ) {
    this.#options = options;
  }

  /**
   * Opens the database in `dataDir`, creating it (mode 0600) when it does not exist and
   * has no backups. Throws a StoreDamagedError naming the file when it is empty, fails
   * SQLite's integrity check, is not a database, or is missing while backups exist; and an
   * Error naming it when it cannot be opened at all.
   */
  static open(dataDir: string, file = STORE_FILE, options: StoreOptions = {}): Store {
    const path = `${dataDir.replace(/\/+$/, "")}/${file}`;
    let size: number | undefined;
    try {
      size = Deno.statSync(path).size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(`cannot open the database ${path}: ${(err as Error).message}`);
      }
    }
    if (size === 0) throw new StoreDamagedError(path, "is empty (0 bytes)");
    if (size === undefined) {
      if (existingBackups(path).length > 0) throw new StoreDamagedError(path, "is missing");
      try {
        createDatabase(path);
      } catch (err) {
        throw new Error(`cannot create the database ${path}: ${(err as Error).message}`);
      }
    }
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec("PRAGMA foreign_keys = ON");
      const problems = integrityProblems(db);
      if (problems) throw new StoreDamagedError(path, `is damaged (integrity check: ${problems})`);
      const store = new Store(db, path, options);
      store.migrate("store", [
        `CREATE TABLE documents (
          collection TEXT NOT NULL,
          id TEXT NOT NULL,
          value TEXT NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (collection, id)
        ) WITHOUT ROWID`,
        `CREATE TABLE revisions (
          log TEXT NOT NULL,
          key TEXT NOT NULL,
          revision INTEGER NOT NULL,
          value TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          author TEXT NOT NULL DEFAULT '',
          PRIMARY KEY (log, key, revision)
        ) WITHOUT ROWID`,
      ]);
      return store;
    } catch (err) {
      db?.close();
      if (err instanceof StoreDamagedError) throw err;
      const message = (err as Error).message;
      if (/malformed|not a database/.test(message)) {
        throw new StoreDamagedError(path, `is damaged (SQLite: ${message})`);
      }
      throw new Error(`cannot open the database ${path}: ${message}`);
    }
  }

  /**
   * Backs the database up now (see `backup.ts`) unless a backup is running; resolves with
   * the backup's path. Throws when the live database fails its integrity check (the
   * older backups are kept) or the copy fails.
   */
  backup(): Promise<string> {
    this.#backingUp ??= (async () => {
      clearTimeout(this.#backupTimer);
      this.#backupTimer = undefined;
      const since = this.#dirtySince;
      try {
        const problems = integrityProblems(this.db);
        if (problems) {
          throw new Error(
            `the database ${this.path} is damaged, its backups are kept as they are: ${problems}`,
          );
        }
        const path = await backupDatabase(this.db, this.path);
        // Writes during the copy keep it dirty.
        if (this.#dirtySince === since) this.#dirtySince = 0;
        return path;
      } finally {
        this.#backingUp = undefined;
      }
    })();
    return this.#backingUp;
  }

  /**
   * Backs up when something changed since the newest backup (a write of this process, or
   * a database file newer than the backup); resolves with the backup's path, or undefined.
   */
  async backupIfChanged(): Promise<string | undefined> {
    if (!this.db.isOpen) return undefined;
    const [newest] = existingBackups(this.path);
    const modified = (p: string) => {
      try {
        return Deno.statSync(p).mtime?.getTime() ?? 0;
      } catch {
        return 0;
      }
    };
    const changed = this.#dirtySince > 0 || !newest ||
      Math.max(modified(this.path), modified(`${this.path}-wal`)) > newest.modified.getTime();
    return changed ? await this.backup() : undefined;
  }

  /** Notes a write: a backup follows at the next quiet moment. */
  #wrote(): void {
    const quiet = this.#options.backupQuietMs ?? 60_000;
    const now = Date.now();
    this.#lastWrite = now;
    if (this.#dirtySince === 0) this.#dirtySince = now;
    if (quiet <= 0 || this.#backupTimer) return;
    const check = () => {
      const t = Date.now();
      if (t - this.#lastWrite < quiet && t - this.#dirtySince < 10 * quiet) {
        this.#backupTimer = setTimeout(check, quiet - (t - this.#lastWrite));
        Deno.unrefTimer(this.#backupTimer);
        return;
      }
      this.#backupTimer = undefined;
      this.backup().catch((err) => this.#options.onBackupError?.(err as Error));
    };
    this.#backupTimer = setTimeout(check, quiet);
    Deno.unrefTimer(this.#backupTimer);
  }

  /**
   * Applies the migrations of `area` that have not run yet, each in its own transaction.
   * `steps[i]` is the SQL of version i+1; never edit or reorder a released step, append.
   */
  migrate(area: string, steps: string[]): void {
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS schema_versions (area TEXT PRIMARY KEY, version INTEGER NOT NULL)`,
    );
    const row = this.db.prepare("SELECT version FROM schema_versions WHERE area = ?").get(area) as
      | { version: number }
      | undefined;
    const from = row?.version ?? 0;
    if (from > steps.length) {
      throw new Error(
        `the database has version ${from} of "${area}", newer than this program knows ` +
          `(${steps.length}): it was written by a newer version`,
      );
    }
    for (let v = from; v < steps.length; v++) {
      this.transaction(() => {
        this.db.exec(steps[v]);
        this.db.prepare(
          "INSERT INTO schema_versions (area, version) VALUES (?, ?) " +
            "ON CONFLICT (area) DO UPDATE SET version = excluded.version",
        ).run(area, v + 1);
      });
    }
  }

  /** Runs `fn` in a transaction (a savepoint when nested); rolls back when it throws. */
  transaction<T>(fn: () => T): T {
    const outer = this.#depth === 0;
    const name = `sp${this.#depth}`;
    this.guard(() => this.db.exec(outer ? "BEGIN IMMEDIATE" : `SAVEPOINT ${name}`));
    this.#depth++;
    try {
      const result = fn();
      this.guard(() => this.db.exec(outer ? "COMMIT" : `RELEASE ${name}`));
      if (outer) this.#wrote();
      return result;
    } catch (err) {
      this.#rollback(outer, name);
      throw err;
    } finally {
      this.#depth--;
    }
  }

  /**
   * Undoes a failed transaction or savepoint. SQLite may have rolled the transaction
   * back itself (it does on a full disk), so only what is still open is undone.
   */
  #rollback(outer: boolean, name: string): void {
    if (!this.db.isTransaction) return;
    try {
      this.db.exec(outer ? "ROLLBACK" : `ROLLBACK TO ${name}; RELEASE ${name}`);
    } catch {
      // Gone with an automatic rollback; nothing is left to undo.
    }
  }

  /**
   * Runs a database call, turning the errors of the disk under it (full, I/O error, read
   * only, damaged) into a StoreUnavailableError naming the file.
   */
  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }

  /** The JSON document collection `name`. */
  collection<T>(name: string): Collection<T> {
    const db = this.db;
    const get = db.prepare("SELECT value FROM documents WHERE collection = ? AND id = ?");
    const list = db.prepare(
      "SELECT id, value, updated_at FROM documents WHERE collection = ? ORDER BY id",
    );
    const put = db.prepare(
      "INSERT INTO documents (collection, id, value, updated_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, " +
        "updated_at = excluded.updated_at",
    );
    const del = db.prepare("DELETE FROM documents WHERE collection = ? AND id = ?");
    const count = db.prepare("SELECT count(*) AS n FROM documents WHERE collection = ?");
    return {
      get: (id) => {
        const row = this.guard(() => get.get(name, id)) as { value: string } | undefined;
        return row ? JSON.parse(row.value) as T : undefined;
      },
      list: () => {
        const rows = this.guard(() => list.all(name)) as {
          id: string;
          value: string;
          updated_at: number;
        }[];
        return rows.map((r) => ({
          id: r.id,
          value: JSON.parse(r.value) as T,
          updatedAt: new Date(r.updated_at),
        }));
      },
      put: (id, value) => {
        this.guard(() => put.run(name, id, JSON.stringify(value), Date.now()));
        this.#wrote();
      },
      delete: (id) => {
        const deleted = Number(this.guard(() => del.run(name, id)).changes) > 0;
        if (deleted) this.#wrote();
        return deleted;
      },
      count: () => Number((this.guard(() => count.get(name)) as { n: number }).n),
    };
  }

  /** The revision log `name`. */
  revisions<T>(name: string): RevisionLog<T> {
    const db = this.db;
    type Row = { key: string; revision: number; value: string; created_at: number; author: string };
    const toRevision = (r: Row): Revision<T> => ({
      key: r.key,
      revision: Number(r.revision),
      value: JSON.parse(r.value) as T,
      createdAt: new Date(Number(r.created_at)),
      author: r.author,
    });
    const cols = "key, revision, value, created_at, author";
    const current = db.prepare(
      `SELECT ${cols} FROM revisions WHERE log = ? AND key = ? ORDER BY revision DESC LIMIT 1`,
    );
    const history = db.prepare(
      `SELECT ${cols} FROM revisions WHERE log = ? AND key = ? ORDER BY revision DESC LIMIT ?`,
    );
    const insert = db.prepare(
      "INSERT INTO revisions (log, key, revision, value, created_at, author) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
    );
    const keys = db.prepare("SELECT DISTINCT key FROM revisions WHERE log = ? ORDER BY key");
    const prune = db.prepare(
      "DELETE FROM revisions WHERE log = ? AND key = ? AND revision <= ?",
    );
    const log: RevisionLog<T> = {
      current: (key) => {
        const row = this.guard(() => current.get(name, key)) as Row | undefined;
        return row ? toRevision(row) : undefined;
      },
      history: (key, limit = -1) =>
        (this.guard(() => history.all(name, key, limit)) as Row[]).map(toRevision),
      append: (key, value, options = {}) =>
        this.transaction(() => {
          const now = log.current(key)?.revision ?? 0;
          if (options.expectedRevision !== undefined && options.expectedRevision !== now) {
            throw new RevisionConflictError(key, options.expectedRevision, now);
          }
          const revision: Revision<T> = {
            key,
            revision: now + 1,
            value,
            createdAt: new Date(),
            author: options.author ?? "",
          };
          const args: SQLInputValue[] = [
            name,
            key,
            revision.revision,
            JSON.stringify(value),
            revision.createdAt.getTime(),
            revision.author,
          ];
          this.guard(() => insert.run(...args));
          return revision;
        }),
      keys: () => (this.guard(() => keys.all(name)) as { key: string }[]).map((r) => r.key),
      prune: (key, keep) => {
        const now = log.current(key)?.revision ?? 0;
        const pruned = Number(
          this.guard(() => prune.run(name, key, now - Math.max(0, keep))).changes,
        );
        if (pruned > 0) this.#wrote();
        return pruned;
      },
    };
    return log;
  }

  /** Closes the database (checkpointing the WAL). Later calls throw. */
  close(): void {
    clearTimeout(this.#backupTimer);
    this.#backupTimer = undefined;
    if (this.db.isOpen) this.db.close();
  }
}

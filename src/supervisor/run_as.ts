/**
 * Running a module as another user (manifest `user:` and `group:`), for real isolation
 * between modules and from the orchestrator: only when the orchestrator runs as root.
 * The module's command runs behind util-linux's `setpriv`, which sets the user and group
 * and the user's supplementary groups (`--init-groups`, e.g. `video` for a camera) before
 * it runs the command in its place: Deno.Command's own uid/gid options would leave the
 * module without those groups.
 */

/** A resolved identity to run a module as. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
  home: string;
  /** The argv prefix that runs a command as this identity. */
  prefix: string[];
}

function getent(database: "passwd" | "group", key: string): string[] | undefined {
  const out = new Deno.Command("getent", {
    args: [database, key],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (!out.success) return undefined;
  return new TextDecoder().decode(out.stdout).split("\n")[0].split(":");
}

/**
 * Resolves `user` (and `group`) from the user database. Throws a one-line error when the
 * orchestrator is not root (`uid` is its own uid), or the user or group does not exist.
 */
export function resolveRunAs(user: string, group = "", uid = Deno.uid()): RunAs {
  if (uid !== 0) {
    throw new Error(
      `user: ${user} needs the orchestrator to run as root (it runs as uid ${uid}); run it ` +
        `as root (see the README's systemd section) or remove user/group from the manifest`,
    );
  }
  const passwd = getent("passwd", user);
  if (!passwd) throw new Error(`user: no user "${user}" in the user database (getent passwd)`);
  let gid = Number(passwd[3]);
  if (group) {
    const entry = getent("group", group);
    if (!entry) throw new Error(`group: no group "${group}" in the group database (getent group)`);
    gid = Number(entry[2]);
  }
  const resolved = { user: passwd[0], uid: Number(passwd[2]), gid, home: passwd[5] };
  return {
    ...resolved,
    prefix: [
      "setpriv",
      `--reuid=${resolved.uid}`,
      `--regid=${resolved.gid}`,
      "--init-groups",
      "--",
    ],
  };
}

/** Gives `dir` and everything below it to `uid`:`gid` (a module's data directory). */
export function chownTree(dir: string, uid: number, gid: number): void {
  Deno.chownSync(dir, uid, gid);
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && !entry.isSymlink) chownTree(path, uid, gid);
    else if (!entry.isSymlink) Deno.chownSync(path, uid, gid);
  }
}

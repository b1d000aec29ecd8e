/**
 * Finding cgroup v2 on a hybrid layout (v1 controllers, v2 at /sys/fs/cgroup/unified, as
 * on our CI machines) and on a pure v2 one (/sys/fs/cgroup, as on Raspberry Pi OS), and the
 * orchestrator's own cgroup; and, where this machine allows, a real module cgroup.
 */
import assert from "node:assert/strict";
import {
  cgroup2Mount,
  cgroupPids,
  ModuleCgroups,
  ownCgroupPath,
} from "../../src/supervisor/cgroups.ts";

const HYBRID = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const PURE = `22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/root rw
26 23 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

Deno.test("cgroups: the v2 mount and our own cgroup, hybrid and pure layouts", () => {
  assert.equal(cgroup2Mount(HYBRID), "/sys/fs/cgroup/unified");
  assert.equal(cgroup2Mount(PURE), "/sys/fs/cgroup");
  assert.equal(cgroup2Mount("22 1 179:2 / / rw - ext4 /dev/root rw\n"), undefined);
  assert.equal(
    ownCgroupPath("9:name=systemd:/\n4:memory:/x\n0::/system.slice/call-assistant.service\n"),
    "/system.slice/call-assistant.service",
  );
  assert.equal(ownCgroupPath("0::/\n"), "/");
  assert.equal(ownCgroupPath("4:memory:/x\n"), undefined);
});

Deno.test("cgroups: a wrapped command runs in its module's cgroup, with its own pid", async () => {
  const { cgroups, reason } = await ModuleCgroups.create();
  if (!cgroups) {
    console.log(`SKIPPED: no cgroup v2 to use here (${reason})`);
    return;
  }
  try {
    const dir = cgroups.prepare("probe-module");
    const argv = cgroups.wrap(dir, ["/bin/sh", "-c", "echo $$; exec sleep 30"]);
    const child = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped" }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    const shellPid = Number(new TextDecoder().decode(value).trim());
    assert.equal(shellPid, child.pid, "the wrapper execs: the module keeps the spawned pid");
    assert.deepEqual(cgroupPids(dir), [child.pid]);
    reader.releaseLock();
    await cgroups.close();
    assert.equal((await child.status).signal, "SIGKILL");
    await child.stdout.cancel();
  } finally {
    await cgroups.close();
  }
});

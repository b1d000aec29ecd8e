/**
 * Installs the system packages the example modules and tests need, once: Debian's Python
 * with gRPC and protobuf (Python modules: the cast-screen example, the Python SDK and its
 * tests; the SDK ships its generated stubs, so protoc is not needed to run anything); with
 * `--tests` also Chromium (the dashboard tests drive it) and openssl (the TLS tests make
 * their certificates with it). Run by
 * `deno task start` and `deno task test`; does nothing when everything is present.
 * Without root it prints the apt-get command instead of running it.
 */

/** Debian packages and the file each one provides, to check for it. */
export const PACKAGES: Record<string, string> = {
  "python3-minimal": "/usr/bin/python3",
  // grpc.aio: the Python SDK serves and reports with asyncio.
  "python3-grpcio": "/usr/lib/python3/dist-packages/grpc/aio/__init__.py",
  // struct_pb2: the well-known types the generated stubs import.
  "python3-protobuf": "/usr/lib/python3/dist-packages/google/protobuf/struct_pb2.py",
};

/** Debian packages only the tests need. */
export const TEST_PACKAGES: Record<string, string> = {
  chromium: "/usr/bin/chromium",
  openssl: "/usr/bin/openssl",
};

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The packages whose files are missing (with the tests' packages when `tests`). */
export function missingPackages(tests = false): string[] {
  return Object.entries({ ...PACKAGES, ...(tests ? TEST_PACKAGES : {}) })
    .filter(([, file]) => !exists(file)).map(([pkg]) => pkg);
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return out.success;
}

async function main(): Promise<number> {
  const missing = missingPackages(Deno.args.includes("--tests"));
  if (missing.length === 0) return 0;
  const command = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (Deno.uid() !== 0 || !exists("/usr/bin/apt-get")) {
    console.error(`setup: missing ${missing.join(", ")}; install them with: sudo ${command}`);
    console.error(
      "setup: until then the Python example module stays FAILED" +
        (Deno.args.includes("--tests") ? " and the dashboard and TLS tests fail" : ""),
    );
    return 0;
  }
  console.error(`setup: installing ${missing.join(", ")}`);
  const ok = await run("apt-get", ["update", "-qq"]) &&
    await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
  if (!ok) {
    console.error(`setup: apt-get failed; install by hand: ${command}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());

/**
 * Installs the system packages the example modules and tests need, once: Debian's gRPC for
 * Python (the cast-screen example module), protoc with its gRPC plugin, and openssl (the
 * TLS tests make their certificates with it). Run by
 * `deno task start` and `deno task test`; does nothing when everything is present.
 * Without root it prints the apt-get command instead of running it.
 */

/** Debian packages and the file each one provides, to check for it. */
export const PACKAGES: Record<string, string> = {
  "python3-grpcio": "/usr/lib/python3/dist-packages/grpc/__init__.py",
  "python3-protobuf": "/usr/lib/python3/dist-packages/google/protobuf/__init__.py",
  "protobuf-compiler": "/usr/bin/protoc",
  "protobuf-compiler-grpc": "/usr/bin/grpc_python_plugin",
  "openssl": "/usr/bin/openssl",
};

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The packages whose files are missing. */
export function missingPackages(): string[] {
  return Object.entries(PACKAGES).filter(([, file]) => !exists(file)).map(([pkg]) => pkg);
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
  const missing = missingPackages();
  if (missing.length === 0) return 0;
  const command = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (Deno.uid() !== 0 || !exists("/usr/bin/apt-get")) {
    console.error(`setup: missing ${missing.join(", ")}; install them with: sudo ${command}`);
    console.error("setup: the Python example module will stay FAILED until then");
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

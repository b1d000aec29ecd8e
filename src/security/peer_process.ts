/**
 * Which local process a TCP connection comes from (Linux /proc), so a module token is
 * accepted only from a connection that one of that module's own processes holds: a token
 * read from `/proc/<pid>/environ` by another process of the same user is useless to it.
 *
 * The caller's address (`ip:port`) names the caller's socket in /proc/net/tcp and tcp6,
 * whose last column is the socket's inode; a process holds that socket when one of its
 * /proc/<pid>/fd links reads `socket:[inode]`. The answer is kept per connection: the next
 * call from the same address costs one readlink, which also proves the socket is still
 * the one that was checked (a closed socket's address could be taken by someone else).
 */
import type { Logger } from "../log/logger.ts";
import { Code, RpcError } from "@callassistant/rpc";

/** An address as `ip` (canonical form, IPv4-mapped IPv6 as IPv4) and `port`. */
interface Address {
  ip: string;
  port: number;
}

/** The canonical form of an IP address (IPv6 compressed, IPv4-mapped as IPv4). */
function canonicalIp(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1];
  if (!bare.includes(":")) return bare;
  try {
    const host = new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, "");
    return /^::ffff:[0-9a-f]+:[0-9a-f]+$/.test(host) ? fromMapped(host) : host;
  } catch {
    return bare;
  }
}

/** "::ffff:7f00:1" (how URL writes a mapped address) as "127.0.0.1". */
function fromMapped(host: string): string {
  const [hi, lo] = host.slice(7).split(":").map((h) => parseInt(h, 16));
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/** Parses a gRPC peer ("127.0.0.1:5000", "::1:5000", "[::1]:5000", "ipv4:..."). */
export function parsePeer(peer: string): Address | undefined {
  const text = peer.replace(/^ipv[46]:/, "");
  const i = text.lastIndexOf(":");
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return { ip: canonicalIp(text.slice(0, i)), port };
}

/** Decodes an address of /proc/net/tcp{,6} ("0100007F:1F90"). */
export function decodeProcAddress(hex: string): Address {
  const [ipHex, portHex] = hex.split(":");
  const bytes: number[] = [];
  // Each 32-bit word is written in host (little-endian) order.
  for (let w = 0; w < ipHex.length; w += 8) {
    const word = ipHex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16));
  }
  const ip = bytes.length === 4 ? bytes.join(".") : canonicalIp(
    Array.from({ length: 8 }, (_, g) => ((bytes[2 * g] << 8) | bytes[2 * g + 1]).toString(16))
      .join(":"),
  );
  return { ip, port: parseInt(portHex, 16) };
}

/** Inodes of the established sockets whose local address is `local`; undefined without /proc. */
export function socketInodes(local: Address): string[] | undefined {
  let readable = false;
  const inodes: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode; 01 is ESTABLISHED.
      if (f.length < 10 || f[3] !== "01") continue;
      const a = decodeProcAddress(f[1]);
      if (a.port === local.port && a.ip === local.ip) inodes.push(f[9]);
    }
  }
  return readable ? inodes : undefined;
}

/** The process (and descriptor) among `pids` holding the socket `inode`, if any. */
export function socketHolder(
  inode: string,
  pids: readonly number[],
): { pid: number; fd: number } | undefined {
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const entry of entries) {
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`) === link) {
          return { pid, fd: Number(entry.name) };
        }
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return undefined;
}

/** What was found for one connection. */
interface Checked {
  /** The module process's identity (its token) the connection was checked for. */
  owner: string;
  pid: number;
  fd: number;
  inode: string;
}

/** The connections checked so far are kept up to this many. */
const CACHE_LIMIT = 4096;

/** Checks that connections come from a given module's processes (see the module comment). */
export class PeerProcessCheck {
  readonly #checked = new Map<string, Checked>();
  #warned = false;

  readonly #logger?: Logger;

  constructor(logger?: Logger) {
    this.#logger = logger;
  }

  /**
   * Throws PERMISSION_DENIED unless the connection from `peer` is held by one of `pids`
   * (the processes of the module whose token, `owner`, was presented). Where /proc cannot
   * tell, the token alone decides (one warning in the log).
   */
  verify(peer: string, owner: string, pids: () => readonly number[], module: string): void {
    const known = this.#checked.get(peer);
    if (known && known.owner === owner) {
      try {
        if (Deno.readLinkSync(`/proc/${known.pid}/fd/${known.fd}`) === `socket:[${known.inode}]`) {
          return;
        }
      } catch {
        // The socket is gone: check again below.
      }
    }
    this.#checked.delete(peer);
    const address = parsePeer(peer);
    const inodes = address && socketInodes(address);
    if (!address || inodes === undefined) {
      if (!this.#warned) {
        this.#warned = true;
        this.#logger?.warn(
          "cannot tell which process a module connection comes from (no /proc/net/tcp): " +
            "module tokens are checked alone",
          { peer },
        );
      }
      return;
    }
    const members = pids();
    for (const inode of inodes) {
      const holder = socketHolder(inode, members);
      if (!holder) continue;
      if (this.#checked.size >= CACHE_LIMIT) {
        this.#checked.delete(this.#checked.keys().next().value!);
      }
      this.#checked.set(peer, { owner, inode, ...holder });
      return;
    }
    throw new RpcError(
      Code.PERMISSION_DENIED,
      `the token of module "${module}" was sent from ${peer}, a connection that none of ` +
        `that module's processes holds: a module token is good only for the module itself`,
    );
  }
}

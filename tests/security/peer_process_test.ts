/**
 * Finding the process behind a TCP connection in /proc: addresses as /proc/net/tcp{,6}
 * writes them and as grpc-js gives peers, and a real connection of this test process.
 */
import assert from "node:assert/strict";
import {
  decodeProcAddress,
  parsePeer,
  PeerProcessCheck,
  socketHolder,
  socketInodes,
} from "../../src/security/peer_process.ts";

Deno.test("peer process: addresses of /proc/net/tcp{,6} and of gRPC peers", () => {
  assert.deepEqual(decodeProcAddress("0100007F:921C"), { ip: "127.0.0.1", port: 37404 });
  assert.deepEqual(decodeProcAddress("00000000000000000000000001000000:1F90"), {
    ip: "::1",
    port: 8080,
  });
  assert.deepEqual(decodeProcAddress("0000000000000000FFFF00000100007F:0050"), {
    ip: "127.0.0.1",
    port: 80,
  });
  assert.deepEqual(parsePeer("127.0.0.1:37404"), { ip: "127.0.0.1", port: 37404 });
  assert.deepEqual(parsePeer("ipv4:127.0.0.1:5"), { ip: "127.0.0.1", port: 5 });
  assert.deepEqual(parsePeer("::1:8080"), { ip: "::1", port: 8080 });
  assert.deepEqual(parsePeer("[::1]:8080"), { ip: "::1", port: 8080 });
  assert.deepEqual(parsePeer("::ffff:127.0.0.1:80"), { ip: "127.0.0.1", port: 80 });
  assert.equal(parsePeer("unknown"), undefined);
});

Deno.test("peer process: a connection is found held by its own process only", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const server = await listener.accept();
  try {
    const local = client.localAddr as Deno.NetAddr;
    const peer = `${local.hostname}:${local.port}`;
    const inodes = socketInodes(parsePeer(peer)!);
    assert.ok(inodes && inodes.length === 1, `one socket for ${peer}: ${inodes}`);
    assert.equal(socketHolder(inodes[0], [Deno.pid])?.pid, Deno.pid);
    assert.equal(socketHolder(inodes[0], [1]), undefined);

    const check = new PeerProcessCheck();
    check.verify(peer, "token-a", () => [Deno.pid], "mine");
    // Cached: a second call needs no process list.
    check.verify(peer, "token-a", () => [], "mine");
    assert.throws(
      () => check.verify(peer, "token-b", () => [1], "theirs"),
      /token of module "theirs" was sent from .* none of that module's processes holds/,
    );
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

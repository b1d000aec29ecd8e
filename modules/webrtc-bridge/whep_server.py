"""WHEP signalling over HTTP for every bridge entity of the module.

    POST   /whep/<id>            SDP offer in (Content-Type: application/sdp); 201 with
                                 the answer and `Location: /whep/<id>/<session>`
    DELETE /whep/<id>/<session>  ends the session
    PATCH  /whep/<id>/<session>  405: trickle ICE is not supported (send a complete offer)
    GET    /                     the entities and their sessions, as JSON

Errors are plain text naming the problem: 404 unknown entity, 415 not application/sdp,
422 an offer without H.264 video, 503 the camera is not sending (with Retry-After).
CORS allows any origin, so a screen page served elsewhere can signal.

ICE (`ice_policy`): aioice gathers a host candidate on every interface but loopback.
With a loopback media host the bridge offers only 127.0.0.1, keeps only the browser's
loopback candidates and ignores connectivity checks from any other address, so it never
sends a packet anywhere but 127.0.0.1 (the browser needs
`--allow-loopback-in-peer-connection`); with an IP media host it offers only that one.

Run alone: `python3 whep_server.py --input rtsp://127.0.0.1:8554/test` prints the WHEP URL.
"""
import argparse
import asyncio
import ipaddress
import os
import signal
import socket
import sys

import aioice.ice
from aiohttp import web

import sdp_offer
from bridge_output import BridgeOutput

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
    "Access-Control-Max-Age": "600",
}


def listen(bind: str, port: int) -> socket.socket:
    """A listening TCP socket on bind:port (0: a free port); OSError when taken."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP literals."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ice_policy(media_host: str) -> set:
    """Restricts aioice's host candidates for `media_host`; returns the set of remote
    candidate addresses to keep (empty: keep all)."""
    if is_loopback(media_host):
        allowed = {"127.0.0.1", "::1"}
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
        answer = aioice.ice.Connection.request_received

        def loopback_only(self, message, addr, protocol, raw_data):
            # A check from another address would teach aioice a peer-reflexive candidate
            # and make it answer there; ignore it.
            if addr[0] in allowed:
                answer(self, message, addr, protocol, raw_data)

        aioice.ice.Connection.request_received = loopback_only
        return allowed
    if sdp_offer.is_ip(media_host):
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [media_host]
    return set()


class WhepServer:
    """Serves WHEP for the module's bridge entities."""

    def __init__(self, bind: str, port: int, host: str):
        self.bind = bind
        self.host = host
        # Bound now, so every URL is known before the first request; served by start().
        self._socket = listen(bind, port)
        self.port = self._socket.getsockname()[1]
        self.remote_filter = ice_policy(host)
        self.outputs: dict = {}
        self._runner = None

    def url(self, entity_id: str) -> str:
        """The entity's WHEP endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/whep/{entity_id}"

    def add(self, entity_id: str, on_event=None) -> BridgeOutput:
        """The entity's output, made on first use."""
        if entity_id not in self.outputs:
            self.outputs[entity_id] = BridgeOutput(entity_id, self.remote_filter, on_event)
        return self.outputs[entity_id]

    async def remove(self, entity_id: str) -> None:
        """Closes and forgets an entity's output."""
        output = self.outputs.pop(entity_id, None)
        if output:
            await output.close()

    async def start(self) -> int:
        """Serves on the bound socket; returns the port."""
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_route("OPTIONS", "/whep/{id}", self._options)
        app.router.add_route("OPTIONS", "/whep/{id}/{session}", self._options)
        app.router.add_post("/whep/{id}", self._offer)
        app.router.add_delete("/whep/{id}/{session}", self._delete)
        app.router.add_patch("/whep/{id}/{session}", self._patch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()
        return self.port

    async def close(self) -> None:
        """Closes every session and stops listening."""
        for entity_id in list(self.outputs):
            await self.remove(entity_id)
        if self._runner:
            await self._runner.cleanup()

    def _output(self, request) -> BridgeOutput:
        entity_id = request.match_info["id"]
        output = self.outputs.get(entity_id)
        if output is None:
            known = ", ".join(sorted(self.outputs)) or "none"
            raise web.HTTPNotFound(text=f"no WebRTC bridge entity {entity_id!r} here "
                                   f"(known: {known})\n", headers=CORS)
        return output

    async def _index(self, _request):
        return web.json_response(
            {k: {"url": self.url(k), **v.figures()} for k, v in self.outputs.items()},
            headers={"Access-Control-Allow-Origin": "*"})

    async def _options(self, _request):
        return web.Response(status=204, headers={**CORS, "Accept-Post": "application/sdp"})

    async def _offer(self, request):
        output = self._output(request)
        if request.content_type != "application/sdp":
            raise web.HTTPUnsupportedMediaType(
                text=f"a WHEP offer must be Content-Type: application/sdp, not "
                f"{request.content_type or '(none)'}\n", headers=CORS)
        offer = await request.text()
        try:
            session_id, answer = await output.answer(offer, request.remote or "")
        except sdp_offer.OfferError as err:
            headers = dict(CORS)
            if err.status == 503:
                headers["Retry-After"] = "1"
            return web.Response(status=err.status, text=f"{err}\n", headers=headers)
        location = f"/whep/{output.entity_id}/{session_id}"
        return web.Response(status=201, text=answer, content_type="application/sdp",
                            headers={**CORS, "Location": location, "ETag": f'"{session_id}"'})

    async def _delete(self, request):
        output = self._output(request)
        if not await output.end(request.match_info["session"]):
            raise web.HTTPNotFound(text="no such session\n", headers=CORS)
        return web.Response(status=200, text="session ended\n", headers=CORS)

    async def _patch(self, _request):
        return web.Response(status=405, text="trickle ICE is not supported: send a complete "
                            "offer (wait for ICE gathering to finish)\n",
                            headers={**CORS, "Allow": "POST, DELETE"})


async def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--id", default="test")
    args = parser.parse_args()
    server = WhepServer(args.bind, args.port, args.host)
    await server.start()
    output = server.add(args.id, lambda k, m: print(f"{k}: {m}", file=sys.stderr, flush=True))
    output.set_input(args.input)
    output.start()
    print(server.url(args.id), flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not os.read(0, 4096) else None)
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), 2)
        except asyncio.TimeoutError:
            print(output.figures(), file=sys.stderr, flush=True)
    await server.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))

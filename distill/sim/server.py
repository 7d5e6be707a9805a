"""The teacher simulator's HTTP/1.1 server: h11 on an asyncio Protocol.

h11 parses the requests and writes the well-formed responses (keep-alive, Content-Length or
chunked request bodies, Connection: close, HTTP/1.0). The transport faults a real teacher API
shows are written as raw bytes past h11, as no conforming HTTP library would produce them: a
dropped connection, a body cut short of its Content-Length, a stalled request, and DeepSeek's
keep-alive blank lines before a late JSON body. The app decides per request by returning one of
the reply types below. Bound to 127.0.0.1 only: it is a test fixture, not a service.

A Protocol rather than streams, and no task per connection: a request costs one task, which keeps
the simulator well ahead of the client it measures (bench/harvest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11

from distill.errors import ConfigError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024
_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    402: b"Payment Required",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    411: b"Length Required",
    413: b"Payload Too Large",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    529: b"Overloaded",
}


class Request:
    __slots__ = ("body", "headers", "method", "path")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers  # names lowercased
        self.body = body


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


@dataclass(slots=True)
class Drop:
    """Close the connection without a byte of response."""


@dataclass(slots=True)
class Truncated:
    """Send the headers with the full Content-Length but only `keep` of the body, then close."""

    response: Response
    keep: float = 0.5


@dataclass(slots=True)
class Stall:
    """Hold the request unanswered for `seconds`, then close; `finished` is called after."""

    seconds: float
    finished: Callable[[], None] | None = None


@dataclass(slots=True)
class KeepAliveLines:
    """DeepSeek style: 200 headers with no length, a newline every `interval_s` until `body`
    resolves, then the body and close. `finished` is called however it ends (the body may be
    cancelled before it starts, when its own cleanup would not run)."""

    interval_s: float
    body: Awaitable[bytes]
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"
    finished: Callable[[], None] | None = None


Reply = Response | Drop | Truncated | Stall | KeepAliveLines
Handler = Callable[[Request], Awaitable[Reply]]


def check_host(host: str) -> str:
    """The simulator never listens beyond this machine; 'localhost' means 127.0.0.1."""
    if host in (LOOPBACK, "localhost"):
        return LOOPBACK
    raise ConfigError(
        f"teacher simulator binds {LOOPBACK} only (got host {host!r}); it is a local test fixture"
    )


def _raw_head(
    status: int, headers: list[tuple[str, str]], content_type: str, length: int | None
) -> bytes:
    """A response head for the faults h11 will not write; the connection closes after it."""
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, b'Status').decode()}\r\n",
        f"content-type: {content_type}\r\n",
    ]
    if length is not None:
        lines.append(f"content-length: {length}\r\n")
    lines.append("connection: close\r\n")
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class HttpServer:
    """Serve `handler` on 127.0.0.1:port (0 = any free port) until stop()."""

    def __init__(self, handler: Handler, host: str = LOOPBACK, port: int = 0) -> None:
        self.handler = handler
        self._host = check_host(host)
        self._port = port
        self._server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _Connection(self), self._host, self._port, backlog=2048
            )
        except OSError as exc:
            raise ConfigError(
                f"teacher simulator cannot listen on {self._host}:{self._port} ({exc.strerror})"
            ) from None

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.connections):
            conn.close()
        await self._server.wait_closed()
        self._server = None


class _Connection(asyncio.Protocol):
    """One client connection: h11 state, and the task answering its current request."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        self._transport: asyncio.Transport  # set by connection_made, before anything else
        self._request: h11.Request | None = None  # the head whose body is being read
        self._body: list[bytes] = []
        self._body_size = 0
        self._busy = False  # a request is being answered: later bytes wait in h11's buffer
        self._waiting = 0  # bytes received while busy
        self._paused = False

    # --- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._h11.receive_data(data)
        if not self._busy:
            self._read_events()
            return
        self._waiting += len(data)
        if self._waiting > _MAX_HEAD and not self._paused:  # a client that will not wait
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._h11.receive_data(b"")
        if not self._busy:
            self._read_events()
        return True  # stay open to answer a request already received; closed after it

    def connection_lost(self, exc: Exception | None) -> None:
        # A request still being answered runs on (a real API bills it anyway); its reply is dropped.
        self._server.connections.discard(self)

    def close(self) -> None:
        self._transport.close()

    # --- requests ---------------------------------------------------------------------------

    def _read_events(self) -> None:
        conn = self._h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._reject(exc.error_status_hint, str(exc))
                return
            if isinstance(event, h11.Data):
                self._body_size += len(event.data)
                if self._body_size > _MAX_BODY:
                    self._reject(413, "body too large")
                    return
                self._body.append(event.data)
            elif isinstance(event, h11.Request):
                self._request = event
                self._body, self._body_size = [], 0
                refusal = _refusal(event)
                if refusal is not None:
                    self._reject(*refusal)
                    return
            elif isinstance(event, h11.EndOfMessage):
                assert self._request is not None  # h11 sends a Request before its body
                self._start(self._request)
                return
            elif isinstance(event, h11.ConnectionClosed):
                self.close()
                return
            else:  # NEED_DATA; PAUSED cannot come while idle
                return

    def _start(self, event: h11.Request) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        method, path = event.method.decode("ascii"), event.target.decode("latin-1")
        request = Request(method, path, headers, body)
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._answer(request))
        self._server.tasks.add(task)
        task.add_done_callback(self._server.tasks.discard)

    async def _answer(self, request: Request) -> None:
        try:
            reply = await self._server.handler(request)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in the app must not kill the server
            log.exception(
                "teacher simulator: handler failed for %s %s", request.method, request.path
            )
            reply = Response(500, b'{"error":{"message":"simulator bug","type":"server_error"}}')
        try:
            keep_open = await self._send(reply)
        except h11.LocalProtocolError:  # the app built a reply HTTP cannot carry
            log.exception("teacher simulator: bad reply for %s %s", request.method, request.path)
            keep_open = False
        if not keep_open:
            self.close()
            return
        self._busy, self._waiting = False, 0
        if self._paused:
            self._paused = False
            self._transport.resume_reading()
        self._read_events()  # a request that came in meanwhile (or the client's EOF)

    def _reject(self, status: int, message: str) -> None:
        """Answer a request h11 could not parse, then close."""
        if self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = json.dumps({"error": message}).encode()
            with contextlib.suppress(h11.LocalProtocolError):
                self._send_response(Response(status, body, [("connection", "close")]))
        self.close()

    # --- replies ----------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    async def _send(self, reply: Reply) -> bool:
        """Write `reply`; return whether the connection stays open for the next request."""
        if isinstance(reply, Response):
            return self._send_response(reply)
        if isinstance(reply, Drop):
            self._transport.abort()  # RST, no response at all
            return False
        if isinstance(reply, Truncated):
            resp = reply.response
            cut = min(len(resp.body) - 1, max(0, int(len(resp.body) * reply.keep)))
            head = _raw_head(resp.status, resp.headers, resp.content_type, len(resp.body))
            self._write(head + resp.body[: max(0, cut)])
            return False
        if isinstance(reply, Stall):
            try:
                await asyncio.sleep(reply.seconds)
            finally:
                if reply.finished is not None:
                    reply.finished()
            return False
        try:
            await self._keepalive_lines(reply)
        finally:
            if reply.finished is not None:
                reply.finished()
        return False

    def _send_response(self, reply: Response) -> bool:
        conn, status = self._h11, reply.status
        headers = [
            (b"content-type", reply.content_type.encode()),
            (b"content-length", b"%d" % len(reply.body)),
        ]
        headers += [(name.encode(), value.encode()) for name, value in reply.headers]
        reason = _REASONS.get(status, b"")
        head = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data = conn.send(h11.Data(data=reply.body))
        tail = conn.send(h11.EndOfMessage())
        self._write(b"".join((head or b"", data or b"", tail or b"")))
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            return True
        return False  # h11 says close: Connection: close, HTTP/1.0, or the client's EOF

    async def _keepalive_lines(self, reply: KeepAliveLines) -> None:
        body_task = asyncio.ensure_future(reply.body)
        try:
            self._write(_raw_head(200, reply.headers, reply.content_type, None))
            while True:
                done, _ = await asyncio.wait({body_task}, timeout=reply.interval_s)
                if done:
                    break
                if self._transport.is_closing():
                    return  # the client went away: the body is never computed
                self._write(b"\n")
            self._write(body_task.result())
        finally:
            if not body_task.done():
                body_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await body_task


def _refusal(event: h11.Request) -> tuple[int, str] | None:
    """Limits h11 leaves to us: a head that arrived whole can pass its size check."""
    size = len(event.target)
    for name, value in event.headers:
        size += len(name) + len(value) + 4
        if name == b"content-length" and int(value) > _MAX_BODY:  # h11 checked the digits
            return 413, "bad content-length"
    return (431, "headers too large") if size > _MAX_HEAD else None

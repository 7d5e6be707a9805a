"""A minimal HTTP/1.1 server on asyncio streams for the teacher simulator.

Only what the simulator needs, kept fast: keep-alive, bodies by Content-Length (or chunked), and
the transport faults a real teacher API shows — a dropped connection, a truncated body, a stalled
request, and DeepSeek's keep-alive blank lines before a late JSON body. The app decides per request
by returning one of the reply types below. Bound to 127.0.0.1 only: it is a test fixture, not a
service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from distill.errors import ConfigError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
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


def _head(
    status: int,
    headers: list[tuple[str, str]],
    content_type: str,
    length: int | None,
    keep_alive: bool,
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n",
        f"content-type: {content_type}\r\n",
    ]
    if length is not None:
        lines.append(f"content-length: {length}\r\n")
    lines.append("connection: keep-alive\r\n" if keep_alive else "connection: close\r\n")
    for name, value in headers:
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class HttpServer:
    """Serve `handler` on 127.0.0.1:port (0 = any free port) until stop()."""

    def __init__(self, handler: Handler, host: str = LOOPBACK, port: int = 0) -> None:
        self._handler = handler
        self._host = check_host(host)
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._serve, self._host, self._port, backlog=2048, limit=_MAX_HEAD
            )
        except OSError as exc:
            raise ConfigError(
                f"teacher simulator cannot listen on {self._host}:{self._port} ({exc.strerror})"
            ) from None

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away or sent garbage; nothing to answer
        except asyncio.CancelledError:
            pass  # server stopping
        finally:
            self._connections.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        except asyncio.LimitOverrunError:
            await self._send(writer, Response(431, b'{"error":"headers too large"}'), False)
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            await self._send(writer, Response(400, b'{"error":"bad request line"}'), False)
            return False
        method, path, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        conn = headers.get("connection", "").lower()
        keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        else:
            try:
                length = int(headers.get("content-length", "0") or "0")
            except ValueError:
                length = -1
            if not 0 <= length <= _MAX_BODY:
                await self._send(writer, Response(413, b'{"error":"bad content-length"}'), False)
                return False
            body = await reader.readexactly(length) if length else b""
        try:
            reply = await self._handler(Request(method, path, headers, body))
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in the app must not kill the server
            log.exception("teacher simulator: handler failed for %s %s", method, path)
            reply = Response(500, b'{"error":{"message":"simulator bug","type":"server_error"}}')
        return await self._send(writer, reply, keep_alive)

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply, keep_alive: bool) -> bool:
        if isinstance(reply, Response):
            writer.write(
                _head(reply.status, reply.headers, reply.content_type, len(reply.body), keep_alive)
                + reply.body
            )
            await writer.drain()
            return keep_alive
        if isinstance(reply, Drop):
            writer.transport.abort()  # RST, no response at all
            return False
        if isinstance(reply, Truncated):
            resp = reply.response
            cut = min(len(resp.body) - 1, max(0, int(len(resp.body) * reply.keep)))
            writer.write(
                _head(resp.status, resp.headers, resp.content_type, len(resp.body), False)
                + resp.body[: max(0, cut)]
            )
            await writer.drain()
            return False
        if isinstance(reply, Stall):
            try:
                await asyncio.sleep(reply.seconds)
            finally:
                if reply.finished is not None:
                    reply.finished()
            return False
        try:
            return await self._keepalive_lines(writer, reply)
        finally:
            if reply.finished is not None:
                reply.finished()

    async def _keepalive_lines(self, writer: asyncio.StreamWriter, reply: KeepAliveLines) -> bool:
        body_task = asyncio.ensure_future(reply.body)
        try:
            writer.write(_head(200, reply.headers, reply.content_type, None, False))
            await writer.drain()
            while True:
                done, _ = await asyncio.wait({body_task}, timeout=reply.interval_s)
                if done:
                    break
                writer.write(b"\n")
                await writer.drain()
            writer.write(body_task.result())
            await writer.drain()
        finally:
            if not body_task.done():
                body_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await body_task
        return False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # trailer end (no trailers supported)
            return b"".join(parts)
        total += size
        if total > _MAX_BODY:
            raise ConnectionError("chunked body too large")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)

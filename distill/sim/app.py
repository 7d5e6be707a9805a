"""The teacher simulator app: routes, auth, limits, faults and answers, on the HTTP server.

It is not a model. It answers bundled example tasks right with probability p_correct (so the
graders have something to judge) and anything else with a generic reply, and it reproduces what
makes real teachers hard to harvest from: latency, RPM/TPM limits with their headers, 5xx, bad
bodies, dropped and stalled connections, DeepSeek's keep-alive blank lines, the different
places each API puts its reasoning, prompt caching, and both Batch APIs (openai_batches.py,
anthropic_batches.py), whose items are answered by the same code as the sync endpoints.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import random
from typing import Any

from distill.sim.answering import (
    BAD_BODY,
    DEFAULT_MAX_TOKENS,
    Answerer,
    Parsed,
    fingerprint_key,
    parse,
)
from distill.sim.answers import TaskIndex
from distill.sim.anthropic_batches import AnthropicBatches
from distill.sim.batchcore import ItemRunner
from distill.sim.config import SimConfig
from distill.sim.files import FileStore
from distill.sim.limits import Latency, RateLimiter, SimStats
from distill.sim.openai_batches import OpenAIBatches
from distill.sim.routes import Route, resolve
from distill.sim.server import (
    Drop,
    HttpServer,
    KeepAliveLines,
    Reply,
    Request,
    Response,
    Stall,
    Truncated,
)
from distill.sim.wire import MODELS, error_response, json_bytes

__all__ = ["DEFAULT_MAX_TOKENS", "SAMPLE_INDEX_HEADER", "TeacherSim"]

SAMPLE_INDEX_HEADER = "x-distill-sample-index"


class TeacherSim:
    """The simulator app on its HTTP server, in the current event loop."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config or SimConfig()
        self._latency = Latency.parse(cfg.latency)
        self._latency_rng = random.Random(f"latency|{cfg.seed}")
        self._fault_rng = random.Random(cfg.seed)
        self._limits = RateLimiter(cfg.rpm, cfg.tpm, cfg.limit_window_s)
        self._stats = SimStats(cfg.record_arrivals)
        self._answerer = Answerer(cfg, TaskIndex.load(cfg.task_files))
        runner = ItemRunner(cfg, self._answerer, self._stats)
        self._openai_batches = OpenAIBatches(runner, FileStore())
        self._anthropic_batches = AnthropicBatches(runner, lambda: f"127.0.0.1:{self.port}")
        self._server = HttpServer(self._handle, cfg.host, cfg.port)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        self._openai_batches.close()
        self._anthropic_batches.close()
        await self._server.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        return self._stats.as_dict()

    async def _handle(self, req: Request) -> Reply:
        found = resolve(req.method, req.path)
        if isinstance(found, list):
            if not found:
                return error_response(False, 404, f"no route {req.method} {req.path}")
            takes = " or ".join(route.method for route in found)
            return error_response(False, 405, f"{req.path.partition('?')[0]} takes {takes}")
        route = found.route
        if route.name == "health":
            return Response(200, b'{"status":"ok"}')
        if route.name == "stats":
            return Response(200, json_bytes(self.stats()))
        if route.name == "stats/reset":
            self._stats.reset()
            return Response(200, b'{"reset":true}')
        if route.name in ("chat", "messages", "models"):
            return await self._api(req, route)
        # A batch route: answered at once, so it arrives and departs here.
        self._stats.arrive("/v1" + route.template, "", req.body)
        try:
            reply = self._refusal(req.headers, route.api == "anthropic")
            if reply is None:
                batches = (
                    self._anthropic_batches if route.api == "anthropic" else self._openai_batches
                )
                reply = batches.handle(route.name, found, req)
            self._count(str(reply.status))
            return reply
        finally:
            self._stats.depart()

    def _count(self, label: str) -> None:
        self._stats.by_status[label] = self._stats.by_status.get(label, 0) + 1

    async def _api(self, req: Request, route: Route) -> Reply:
        stats = self._stats
        stats.arrive("/v1" + route.template, req.headers.get(SAMPLE_INDEX_HEADER, ""), req.body)
        handed_over = False
        try:
            reply, label = await self._answer(req, route)
            self._count(label)
            if isinstance(reply, Stall | KeepAliveLines):  # the server finishes these later
                reply.finished, handed_over = stats.depart, True
            return reply
        finally:
            if not handed_over:
                stats.depart()

    def _refusal(self, headers: dict[str, str], anthropic: bool) -> Response | None:
        """The 401 of a wrong key, or the status_override error; None to answer."""
        cfg = self.config
        if cfg.api_key and not self._authorized(headers):
            msg = "invalid x-api-key" if anthropic else "Incorrect API key provided"
            return error_response(anthropic, 401, msg, code="invalid_api_key")
        if cfg.status_override:
            status = cfg.status_override
            msg = f"simulated HTTP {status} (status_override)"
            return error_response(anthropic, status, msg, headers=self._overloaded(status))
        return None

    async def _answer(self, req: Request, route: Route) -> tuple[Reply, str]:
        cfg = self.config
        anthropic = route.api == "anthropic"
        refusal = self._refusal(req.headers, anthropic)
        if refusal is not None:
            return refusal, str(refusal.status)
        if route.name == "models":
            return Response(200, json_bytes(MODELS)), "200"
        try:
            parsed: Parsed | str = parse(json.loads(req.body), anthropic)
            sample_index = int(req.headers.get(SAMPLE_INDEX_HEADER, "0"))
        except ValueError:
            parsed = BAD_BODY
        if isinstance(parsed, str):
            return error_response(anthropic, 400, parsed), "400"
        budget = parsed.budget
        headers, wait, which = self._limits.check(parsed.prompt_tokens + budget, anthropic)
        if wait > 0:
            self._stats.rate_limited += 1
            headers += [
                ("retry-after", str(max(1, math.ceil(wait)))),
                ("retry-after-ms", str(max(1, math.ceil(wait * 1000)))),
            ]
            msg = f"Rate limit reached for {which}; try again in {wait:.3f}s"
            kind = "rate_limit_error" if anthropic else which
            return error_response(
                anthropic, 429, msg, kind=kind, code="rate_limit_exceeded", headers=headers
            ), "429"
        fault = self._pick_fault()
        if fault == "stall":
            return Stall(cfg.stall_s), "stalled"
        delay = self._latency.sample(self._latency_rng)
        if fault is None and cfg.keepalive_interval_s > 0:
            late = self._late_body(delay, parsed, sample_index)
            return KeepAliveLines(cfg.keepalive_interval_s, late, headers), "200"
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == "drop":
            return Drop(), "dropped"
        if fault == "5xx":
            codes = (500, 502, 503, 529) if anthropic else (500, 502, 503)
            status = self._fault_rng.choice(codes)
            msg = f"simulated upstream error {status}"
            return error_response(anthropic, status, msg, headers=self._overloaded(status)), str(
                status
            )
        body = self._built(parsed, sample_index, count=fault is None)
        if fault == "malformed":  # half a JSON object and then an HTML error page
            return Response(200, body[: len(body) // 2] + b"<html>bad gateway", headers), fault
        if fault == "truncated":
            return Truncated(Response(200, body, headers)), "truncated"
        return Response(200, body, headers), "200"

    async def _late_body(self, delay: float, parsed: Parsed, sample_index: int) -> bytes:
        await asyncio.sleep(delay)
        return self._built(parsed, sample_index, count=True)

    def _built(self, parsed: Parsed, sample_index: int, count: bool) -> bytes:
        """The answer body; refunds unused max_tokens and, for a delivered answer, counts it."""
        built = self._answerer.build(parsed, sample_index)
        if parsed.budget:
            self._limits.refund_tokens(parsed.budget - built.completion)
        if count:
            self._stats.ok(
                fingerprint_key(parsed, sample_index),
                parsed.prompt_tokens,
                built.completion,
                built.cache.read,
                built.cache.written,
            )
        return built.body

    def _overloaded(self, status: int) -> list[tuple[str, str]]:
        """Retry-After on 503/529 when configured: how long an overloaded teacher asks for."""
        value = self.config.retry_after_header() if status in (503, 529) else ""
        return [("retry-after", value)] if value else []

    def _authorized(self, headers: dict[str, str]) -> bool:
        key = self.config.api_key.encode()
        bearer = headers.get("authorization", "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(bearer, key) or hmac.compare_digest(
            headers.get("x-api-key", "").encode(), key
        )

    def _pick_fault(self) -> str | None:
        roll = self._fault_rng.random()
        for name, rate in self.config.fault_rates().items():
            if roll < rate:
                return name
            roll -= rate
        return None

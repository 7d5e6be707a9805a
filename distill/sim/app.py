"""The teacher simulator app: routes, auth, limits, faults and answers, on the HTTP server.

It is not a model. It answers bundled example tasks right with probability p_correct (so the
graders have something to judge) and anything else with a generic reply, and it reproduces what
makes real teachers hard to harvest from: latency, RPM/TPM limits with their headers, 5xx, bad
bodies, dropped and stalled connections, DeepSeek's keep-alive blank lines, and the different
places each API puts its reasoning.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import random
from typing import Any

from distill.sim.answers import Answer, TaskIndex, generate_answer, text_of
from distill.sim.config import SimConfig
from distill.sim.limits import Latency, RateLimiter, SimStats
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
from distill.sim.wire import (
    MODELS,
    anthropic_body,
    cut_to_budget,
    error_response,
    json_bytes,
    openai_body,
    reasoning_placement,
    tokens,
)

DEFAULT_MAX_TOKENS = 32768
SAMPLE_INDEX_HEADER = "x-distill-sample-index"


class TeacherSim:
    """The simulator app on its HTTP server, in the current event loop."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self._latency = Latency.parse(self.config.latency)
        self._latency_rng = random.Random(f"latency|{self.config.seed}")
        self._fault_rng = random.Random(self.config.seed)
        self._limits = RateLimiter(self.config.rpm, self.config.tpm, self.config.limit_window_s)
        self._tasks = TaskIndex.load(self.config.task_files)
        self._stats = SimStats(self.config.record_arrivals)
        self._ids = 0
        self._server = HttpServer(self._handle, self.config.host, self.config.port)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
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
        path = req.path.partition("?")[0]
        while path.startswith("/v1/"):  # the Anthropic SDK appends /v1 to a base URL ending in /v1
            path = path[3:]
        route = _ROUTES.get(path)
        if route is None:
            return error_response(False, 404, f"no route {req.method} {req.path}")
        method, endpoint = route
        if req.method != method:
            return error_response(False, 405, f"{path} takes {method}")
        if endpoint == "health":
            return Response(200, b'{"status":"ok"}')
        if endpoint == "stats":
            return Response(200, json_bytes(self.stats()))
        if endpoint == "stats/reset":
            self._stats.reset()
            return Response(200, b'{"reset":true}')
        return await self._api(req, endpoint)

    async def _api(self, req: Request, endpoint: str) -> Reply:
        stats = self._stats
        stats.arrive("/v1/" + endpoint, req.headers.get(SAMPLE_INDEX_HEADER, ""), req.body)
        handed_over = False
        try:
            reply, label = await self._answer(req, endpoint)
            stats.by_status[label] = stats.by_status.get(label, 0) + 1
            if isinstance(reply, Stall | KeepAliveLines):  # the server finishes these later
                reply.finished, handed_over = stats.depart, True
            return reply
        finally:
            if not handed_over:
                stats.depart()

    async def _answer(self, req: Request, endpoint: str) -> tuple[Reply, str]:
        cfg = self.config
        anthropic = endpoint == "messages"
        if cfg.api_key and not self._authorized(req.headers):
            msg = "invalid x-api-key" if anthropic else "Incorrect API key provided"
            return error_response(anthropic, 401, msg, code="invalid_api_key"), "401"
        if cfg.status_override:
            status = cfg.status_override
            msg = f"simulated HTTP {status} (status_override)"
            return error_response(anthropic, status, msg, headers=self._overloaded(status)), str(
                status
            )
        if endpoint == "models":
            return Response(200, json_bytes(MODELS)), "200"
        try:
            data = json.loads(req.body)
            messages = data["messages"]
            sample_index = int(req.headers.get(SAMPLE_INDEX_HEADER, "0"))
            if not isinstance(messages, list) or not isinstance(data.get("model", ""), str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            msg = "request body must be a JSON object with 'model' and a 'messages' list"
            return error_response(anthropic, 400, msg), "400"
        system = text_of(data.get("system", "")) if anthropic else ""
        texts = [text_of(m.get("content")) for m in messages if isinstance(m, dict)]
        prompt_tokens = tokens(system) + sum(tokens(t) for t in texts)
        budget = data.get("max_completion_tokens") or data.get("max_tokens") or 0
        if not isinstance(budget, int) or budget < 0:
            return error_response(anthropic, 400, "max_tokens must be a positive integer"), "400"
        headers, wait, which = self._limits.check(prompt_tokens + budget, anthropic)
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
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        prompt = text_of(users[-1].get("content")) if users else ""
        args = (data, anthropic, prompt, sample_index, prompt_tokens, budget or DEFAULT_MAX_TOKENS)
        if fault is None and cfg.keepalive_interval_s > 0:
            key = (endpoint, req.headers.get(SAMPLE_INDEX_HEADER, ""), req.body)
            return KeepAliveLines(
                cfg.keepalive_interval_s, self._late_body(delay, key, args), headers
            ), "200"
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
        body, completion = self._body(*args)
        self._limits.refund_tokens(budget - completion if budget else 0)
        if fault == "malformed":  # half a JSON object and then an HTML error page
            return Response(200, body[: len(body) // 2] + b"<html>bad gateway", headers), fault
        if fault == "truncated":
            return Truncated(Response(200, body, headers)), "truncated"
        self._stats.ok(
            (endpoint, req.headers.get(SAMPLE_INDEX_HEADER, ""), req.body),
            prompt_tokens,
            completion,
        )
        return Response(200, body, headers), "200"

    async def _late_body(self, delay: float, key: tuple[str, str, bytes], args: Any) -> bytes:
        await asyncio.sleep(delay)
        body, completion = self._body(*args)
        if args[0].get("max_completion_tokens") or args[0].get("max_tokens"):
            self._limits.refund_tokens(args[5] - completion)
        self._stats.ok(key, args[4], completion)
        return body

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

    def _body(
        self,
        data: dict[str, Any],
        anthropic: bool,
        prompt: str,
        sample_index: int,
        prompt_tokens: int,
        budget: int,
    ) -> tuple[bytes, int]:
        """The answer in the wire format; returns (body, completion tokens)."""
        cfg = self.config
        model = str(data.get("model") or "sim-r1")
        ans: Answer = generate_answer(
            prompt, self._tasks.match(prompt), sample_index, cfg.seed, cfg.p_correct
        )
        low = model.lower()
        place = reasoning_placement(low)
        thinking = data.get("thinking")
        if anthropic:
            think = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
        else:
            think = place != "none"
        reasoning, content, cut = cut_to_budget(ans.reasoning if think else "", ans.content, budget)
        completion = tokens(reasoning) + tokens(content)
        self._ids += 1
        if anthropic:
            return anthropic_body(
                self._ids,
                model,
                reasoning,
                content,
                cut,
                prompt_tokens,
                completion,
                redacted="redacted" in low,
            ), completion
        body = openai_body(
            self._ids, model, place, reasoning, content, cut, prompt_tokens, completion
        )
        return body, completion


_ROUTES = {
    "/chat/completions": ("POST", "chat/completions"),
    "/messages": ("POST", "messages"),
    "/models": ("GET", "models"),
    "/stats": ("GET", "stats"),
    "/stats/reset": ("POST", "stats/reset"),
    "/health": ("GET", "health"),
}

"""A local teacher SIMULATOR: OpenAI- and Anthropic-compatible, for demos, tests and benchmarks.

It is not a model. It answers bundled example tasks right with probability p_correct (so the
graders have something to judge) and anything else with a generic reply, and it reproduces what
makes real teachers hard to harvest from: latency, RPM/TPM limits with their headers, 5xx, bad
bodies, dropped and stalled connections, DeepSeek's keep-alive blank lines, and the different
places each API puts its reasoning.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from distill.errors import ConfigError, DistillError
from distill.jsonl import write_text_atomic
from distill.sim_answers import Answer, TaskIndex, generate_answer, text_of
from distill.sim_http import (
    Drop,
    HttpServer,
    KeepAliveLines,
    Reply,
    Request,
    Response,
    Stall,
    Truncated,
    check_host,
)

log = logging.getLogger(__name__)

SIM_DESCRIPTION = (
    "Run a local SIMULATOR of a teacher API (OpenAI chat completions and Anthropic messages) "
    "for demos, tests and benchmarks. It is NOT a model: it returns canned, deterministic "
    "answers to the bundled example tasks, with configurable latency, rate limits and faults."
)
DEFAULT_MAX_TOKENS = 32768
SAMPLE_INDEX_HEADER = "x-distill-sample-index"
_FAULTS = ("5xx", "malformed", "truncated", "drop", "stall")


@dataclass(frozen=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    p_correct: float = 0.7
    latency: str = "0"
    rpm: int = 0
    tpm: int = 0
    limit_window_s: float = 1.0
    fault_5xx: float = 0.0
    fault_malformed: float = 0.0
    fault_truncated: float = 0.0
    fault_drop: float = 0.0
    fault_stall: float = 0.0
    stall_s: float = 30.0
    keepalive_interval_s: float = 0.0
    api_key: str = ""
    status_override: int = 0
    task_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_host(self.host)
        Latency.parse(self.latency)
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"sim port must be 0..65535, got {self.port}")
        if not 0.0 <= self.p_correct <= 1.0:
            raise ConfigError(f"sim p_correct must be between 0 and 1, got {self.p_correct}")
        for name in ("rpm", "tpm", "stall_s", "keepalive_interval_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"sim {name} must be >= 0, got {getattr(self, name)}")
        if self.limit_window_s <= 0:
            raise ConfigError(f"sim limit_window_s must be > 0, got {self.limit_window_s}")
        rates = self.fault_rates()
        if any(not 0.0 <= r <= 1.0 for r in rates.values()) or sum(rates.values()) > 1.0 + 1e-9:
            raise ConfigError(f"sim fault rates must each be in 0..1 and sum to <= 1, got {rates}")
        if self.status_override and not 400 <= self.status_override <= 599:
            raise ConfigError(f"sim status_override must be 400..599, got {self.status_override}")

    def __repr__(self) -> str:  # never show the key
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        return f"SimConfig({shown}, api_key={'set' if self.api_key else 'unset'})"

    def fault_rates(self) -> dict[str, float]:
        return {name: float(getattr(self, "fault_" + name)) for name in _FAULTS}


@dataclass(frozen=True)
class Latency:
    """A latency spec: "0.2" fixed, "uniform:LO,HI", "lognormal:MEDIAN,SIGMA", "exp:MEAN"."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Latency:
        kind, _, rest = spec.strip().rpartition(":")
        try:
            nums = [float(x) for x in rest.split(",")]
        except ValueError:
            nums = []
        arity = {"": 1, "uniform": 2, "lognormal": 2, "exp": 1}.get(kind)
        if arity is None or len(nums) != arity or any(not math.isfinite(x) or x < 0
                                                       for x in nums):
            raise ConfigError(
                f"bad latency {spec!r}: use SECONDS, uniform:LO,HI, lognormal:MEDIAN,SIGMA or "
                "exp:MEAN (non-negative numbers)")
        if kind == "uniform" and nums[0] > nums[1]:
            raise ConfigError(f"bad latency {spec!r}: uniform needs LO <= HI")
        return cls(kind or "fixed", *nums)

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.a), self.b) if self.a > 0 else 0.0
        return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0


class _Bucket:
    """A token bucket refilling continuously at limit/60 a second, starting full."""

    def __init__(self, limit: int, window_s: float, floor: float) -> None:
        self.limit, self.rate = limit, limit / 60.0
        self.capacity = max(floor, limit * window_s / 60.0)
        self.level, self.stamp = self.capacity, time.monotonic()

    def wait_for(self, amount: float, now: float) -> float:
        # A charge above capacity can still pass once the bucket holds that much.
        self.level = min(max(self.capacity, amount), self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def remaining(self) -> int:
        return max(0, min(self.limit, int(self.level / self.capacity * self.limit)))

    def reset_s(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


class RateLimiter:
    """RPM and TPM buckets shared by all endpoints, and the headers that report them."""

    def __init__(self, rpm: int, tpm: int, window_s: float) -> None:
        self.requests = _Bucket(rpm, window_s, 1.0) if rpm else None
        self.tokens = _Bucket(tpm, window_s, 1.0) if tpm else None

    def check(self, charge: int, anthropic: bool) -> tuple[list[tuple[str, str]], float, str]:
        """Take one request and `charge` tokens if both buckets allow; else how long to wait."""
        now = time.monotonic()
        req_wait = self.requests.wait_for(1, now) if self.requests else 0.0
        tok_wait = self.tokens.wait_for(charge, now) if self.tokens else 0.0
        if req_wait == tok_wait == 0.0:
            if self.requests:
                self.requests.level -= 1
            if self.tokens:
                self.tokens.level -= charge
        headers: list[tuple[str, str]] = []
        for name, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            if bucket is None:
                continue
            reset = bucket.reset_s()
            if anthropic:
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + reset + 0.999))
                headers += [(f"anthropic-ratelimit-{name}-limit", str(bucket.limit)),
                            (f"anthropic-ratelimit-{name}-remaining", str(bucket.remaining())),
                            (f"anthropic-ratelimit-{name}-reset", at)]
            else:
                headers += [(f"x-ratelimit-limit-{name}", str(bucket.limit)),
                            (f"x-ratelimit-remaining-{name}", str(bucket.remaining())),
                            (f"x-ratelimit-reset-{name}", f"{reset:.3f}".rstrip("0").rstrip(".")
                             + "s")]
        wait = max(req_wait, tok_wait)
        return headers, wait, "requests" if req_wait >= tok_wait else "tokens"


class SimStats:
    """Counters behind GET /stats; `in_flight` is a gauge and survives a reset."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        self.requests = self.ok_answers = self.duplicate_ok_answers = self.rate_limited = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.max_in_flight = self.in_flight
        self.by_endpoint: dict[str, int] = {}
        self.by_status: dict[str, int] = {}
        self.ok_keys: set[bytes] = set()
        self.first_request_at: float | None = None
        self.last_response_at: float | None = None

    def arrive(self, endpoint: str) -> None:
        self.requests += 1
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.first_request_at is None:
            self.first_request_at = time.monotonic()

    def depart(self) -> None:
        self.in_flight -= 1
        self.last_response_at = time.monotonic()

    def ok(self, key: tuple[str, str, bytes], prompt_tokens: int, completion: int) -> None:
        digest = hashlib.blake2b(digest_size=16)
        for part in (key[0].encode(), b"\0", key[1].encode(), b"\0", key[2]):
            digest.update(part)
        fingerprint = digest.digest()
        self.ok_answers += 1
        if fingerprint in self.ok_keys:
            self.duplicate_ok_answers += 1
        self.ok_keys.add(fingerprint)
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion

    def as_dict(self) -> dict[str, Any]:
        names = ("requests", "by_endpoint", "by_status", "ok_answers", "duplicate_ok_answers",
                 "in_flight", "max_in_flight", "prompt_tokens", "completion_tokens",
                 "first_request_at", "last_response_at", "rate_limited")
        out = {name: getattr(self, name) for name in names}
        out["by_endpoint"], out["by_status"] = dict(self.by_endpoint), dict(self.by_status)
        out["distinct_ok_keys"] = len(self.ok_keys)
        return out


def reasoning_placement(model: str) -> str:
    """Where an OpenAI-format answer carries its reasoning, by the model name's convention."""
    low = model.lower()
    if "vllm" in low or "openrouter" in low:
        return "reasoning"
    if "think-noopen" in low:
        return "think-noopen"
    if "think" in low:
        return "think"
    return "none" if "plain" in low else "reasoning_content"


def tokens(text: str) -> int:
    """The simulator's tokenizer: four characters a token (an empty text costs nothing)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def cut_to_budget(reasoning: str, content: str, budget: int) -> tuple[str, str, bool]:
    """Spend the max_tokens budget on reasoning first, then content; report whether it cut."""
    if tokens(reasoning) >= budget and (content or tokens(reasoning) > budget):
        return reasoning[: budget * 4], "", True
    left = budget - tokens(reasoning)
    if tokens(content) > left:
        return reasoning, content[: left * 4], True
    return reasoning, content, False


_ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error",
                     402: "billing_error", 403: "permission_error", 404: "not_found_error",
                     413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}
_OPENAI_ERRORS = {400: "invalid_request_error", 401: "invalid_request_error",
                  402: "insufficient_quota", 403: "permission_denied", 404: "not_found",
                  429: "requests"}


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def error_response(anthropic: bool, status: int, message: str, *, kind: str = "",
                   code: str | None = None, headers: list[tuple[str, str]] | None = None
                   ) -> Response:
    """An error in the endpoint's own wire format."""
    if anthropic:
        etype = kind or _ANTHROPIC_ERRORS.get(status, "api_error")
        body = {"type": "error", "error": {"type": etype, "message": message}}
    else:
        etype = kind or _OPENAI_ERRORS.get(status, "server_error")
        body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    return Response(status, _json(body), headers or [])


class TeacherSim:
    """The simulator app on its HTTP server, in the current event loop."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self._latency = Latency.parse(self.config.latency)
        self._latency_rng = random.Random(f"latency|{self.config.seed}")
        self._fault_rng = random.Random(self.config.seed)
        self._limits = RateLimiter(self.config.rpm, self.config.tpm, self.config.limit_window_s)
        self._tasks = TaskIndex.load(self.config.task_files)
        self._stats = SimStats()
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
            return Response(200, _json(self.stats()))
        if endpoint == "stats/reset":
            self._stats.reset()
            return Response(200, b'{"reset":true}')
        return await self._api(req, endpoint)

    async def _api(self, req: Request, endpoint: str) -> Reply:
        stats = self._stats
        stats.arrive("/v1/" + endpoint)
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
            msg = f"simulated HTTP {cfg.status_override} (status_override)"
            return error_response(anthropic, cfg.status_override, msg), str(cfg.status_override)
        if endpoint == "models":
            return Response(200, _json(_MODELS)), "200"
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
            headers += [("retry-after", str(max(1, math.ceil(wait)))),
                        ("retry-after-ms", str(max(1, math.ceil(wait * 1000))))]
            msg = f"Rate limit reached for {which}; try again in {wait:.3f}s"
            kind = "rate_limit_error" if anthropic else which
            return error_response(anthropic, 429, msg, kind=kind, code="rate_limit_exceeded",
                                  headers=headers), "429"
        fault = self._pick_fault()
        if fault == "stall":
            return Stall(cfg.stall_s), "stalled"
        delay = self._latency.sample(self._latency_rng)
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        prompt = text_of(users[-1].get("content")) if users else ""
        args = (data, anthropic, prompt, sample_index, prompt_tokens, budget or DEFAULT_MAX_TOKENS)
        if fault is None and cfg.keepalive_interval_s > 0:
            key = (endpoint, req.headers.get(SAMPLE_INDEX_HEADER, ""), req.body)
            return KeepAliveLines(cfg.keepalive_interval_s, self._late_body(delay, key, args),
                                  headers), "200"
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == "drop":
            return Drop(), "dropped"
        if fault == "5xx":
            codes = (500, 502, 503, 529) if anthropic else (500, 502, 503)
            status = self._fault_rng.choice(codes)
            msg = f"simulated upstream error {status}"
            return error_response(anthropic, status, msg), str(status)
        body, completion = self._body(*args)
        if fault == "malformed":  # half a JSON object and then an HTML error page
            return Response(200, body[: len(body) // 2] + b"<html>bad gateway", headers), fault
        if fault == "truncated":
            return Truncated(Response(200, body, headers)), "truncated"
        self._stats.ok((endpoint, req.headers.get(SAMPLE_INDEX_HEADER, ""), req.body),
                       prompt_tokens, completion)
        return Response(200, body, headers), "200"

    async def _late_body(self, delay: float, key: tuple[str, str, bytes], args: Any) -> bytes:
        await asyncio.sleep(delay)
        body, completion = self._body(*args)
        self._stats.ok(key, args[4], completion)
        return body

    def _authorized(self, headers: dict[str, str]) -> bool:
        key = self.config.api_key.encode()
        bearer = headers.get("authorization", "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(bearer, key) or hmac.compare_digest(
            headers.get("x-api-key", "").encode(), key)

    def _pick_fault(self) -> str | None:
        roll = self._fault_rng.random()
        for name, rate in self.config.fault_rates().items():
            if roll < rate:
                return name
            roll -= rate
        return None

    def _body(self, data: dict[str, Any], anthropic: bool, prompt: str, sample_index: int,
              prompt_tokens: int, budget: int) -> tuple[bytes, int]:
        """The answer in the wire format; returns (body, completion tokens)."""
        cfg = self.config
        model = str(data.get("model") or "sim-r1")
        ans: Answer = generate_answer(
            prompt, self._tasks.match(prompt), sample_index, cfg.seed, cfg.p_correct)
        low = model.lower()
        place = reasoning_placement(low)
        thinking = data.get("thinking")
        if anthropic:
            think = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
        else:
            think = place != "none"
        reasoning, content, cut = cut_to_budget(ans.reasoning if think else "", ans.content,
                                                budget)
        completion = tokens(reasoning) + tokens(content)
        self._ids += 1
        if anthropic:
            return _anthropic_body(self._ids, model, reasoning, content, cut, prompt_tokens,
                                   completion, redacted="redacted" in low), completion
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if place in ("reasoning", "reasoning_content"):
            message[place] = reasoning
        elif place != "none":  # inline; a cut inside the reasoning leaves the tag unclosed
            close = "\n</think>\n\n" if place == "think" else "</think>\n\n"
            tail = close + content if content or not cut else ""
            message["content"] = ("<think>\n" if place == "think" else "") + reasoning + tail
        body = {
            "id": f"chatcmpl-sim{self._ids:010d}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "length" if cut else "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                      "total_tokens": prompt_tokens + completion,
                      "completion_tokens_details": {"reasoning_tokens": tokens(reasoning)},
                      "prompt_tokens_details": {"cached_tokens": 0}},
            "system_fingerprint": "distill-sim",
        }
        return _json(body), completion


def _anthropic_body(n: int, model: str, reasoning: str, content: str, cut: bool,
                    prompt_tokens: int, completion: int, redacted: bool) -> bytes:
    blocks: list[dict[str, Any]] = []
    if reasoning:
        digest = hashlib.blake2b(reasoning.encode(), digest_size=48).digest()
        if redacted:
            data = base64.b64encode(b"distill-sim-redacted:" + digest).decode()
            blocks.append({"type": "redacted_thinking", "data": data})
        else:
            blocks.append({"type": "thinking", "thinking": reasoning,
                           "signature": base64.b64encode(digest).decode()})
    if content or not blocks:
        blocks.append({"type": "text", "text": content})
    return _json({
        "id": f"msg_sim{n:012d}", "type": "message", "role": "assistant", "model": model,
        "content": blocks, "stop_reason": "max_tokens" if cut else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens, "output_tokens": completion,
                  "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
    })


_ROUTES = {"/chat/completions": ("POST", "chat/completions"), "/messages": ("POST", "messages"),
           "/models": ("GET", "models"), "/stats": ("GET", "stats"),
           "/stats/reset": ("POST", "stats/reset"), "/health": ("GET", "health")}
_MODELS = {"object": "list", "has_more": False, "data": [
    {"id": name, "object": "model", "type": "model", "display_name": name, "created": 0,
     "created_at": "2025-01-01T00:00:00Z", "owned_by": "distill-sim"}
    for name in ("sim-r1", "sim-vllm", "sim-think", "sim-think-noopen", "sim-plain",
                 "sim-claude", "sim-claude-redacted")]}


# --- running it -------------------------------------------------------------------------------


@contextlib.contextmanager
def running_sim(config: SimConfig | None = None) -> Iterator[str]:
    """Run a simulator on a background thread with its own event loop; yield its URL + /v1."""
    sim = TeacherSim(config)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(sim.stop())
            loop.close()

    thread = threading.Thread(target=serve, name="distill-teacher-sim", daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        raise failure[0]
    try:
        yield sim.url + "/v1"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


@contextlib.contextmanager
def sim_process(*cli_args: str) -> Iterator[str]:
    """Run `python -m distill.sim` in a subprocess (its own GIL); yield its URL + /v1."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="distill-sim-") as tmp:
        port_file, err_file = Path(tmp) / "port", Path(tmp) / "stderr"
        with err_file.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "distill.sim", *cli_args, "--port", "0",
                 "--port-file", str(port_file)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            deadline = time.monotonic() + 20.0
            while not port_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    lines = err_file.read_text(errors="replace").strip().splitlines()
                    why = lines[-1] if lines else f"exit status {proc.returncode}"
                    raise DistillError(f"teacher simulator subprocess did not start: {why}")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{int(port_file.read_text())}/v1"
        finally:
            proc.terminate()
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """The `distill teacher-sim` options. Numbers are parsed in run_sim_from_args, so a bad
    value is a one-line ConfigError like every other distill error."""
    parser.description = parser.description or SIM_DESCRIPTION
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="only 127.0.0.1 (or localhost) is allowed")
    add("--port", default="0", help="port to listen on; 0 picks a free one (default)")
    add("--port-file", help="write the port here (atomically) once listening")
    add("--seed", default="0", help="seed for answers and faults (default 0)")
    add("--p-correct", default="0.7", help="chance a bundled task is answered right (0.7)")
    add("--latency", default="0",
        help="seconds before answering: 0.2, uniform:LO,HI, lognormal:MEDIAN,SIGMA, exp:MEAN")
    add("--rpm", default="0", help="requests per minute limit (0 = none)")
    add("--tpm", default="0", help="tokens per minute limit, prompt + max_tokens (0 = none)")
    add("--limit-window-s", default="1.0", help="burst window of the limits in seconds (1)")
    for fault, what in (("5xx", "500/502/503 (529 on /v1/messages)"),
                        ("malformed", "200 with a body that is not JSON"),
                        ("truncated", "a body cut short"), ("drop", "connection closed, no answer"),
                        ("stall", "request held unanswered for --stall-s, then closed")):
        add(f"--fault-{fault}", default="0", help=f"fraction of requests answered with {what}")
    add("--stall-s", default="30", help="how long a stalled request is held (30)")
    add("--keepalive-interval-s", default="0",
        help="DeepSeek style: send a blank line this often while answering (0 = off)")
    add("--api-key-env", metavar="NAME",
        help="require the key held in this environment variable (never pass a key itself)")
    add("--status-override", default="0", help="answer every request with this HTTP error")
    add("--tasks", nargs="+", metavar="FILE", default=[],
        help="task JSONL files to answer (default: the bundled examples)")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    def num(option: str, kind: type[int] | type[float]) -> Any:
        raw = getattr(args, option.replace("-", "_"))
        try:
            return kind(raw)
        except (TypeError, ValueError):
            what = "an integer" if kind is int else "a number"
            raise ConfigError(f"--{option} must be {what}, got {raw!r}") from None

    api_key = ""
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "")
        if not api_key:
            raise ConfigError(
                f"--api-key-env: environment variable {args.api_key_env} is not set or empty")
    return SimConfig(
        host=args.host, port=num("port", int), seed=num("seed", int),
        p_correct=num("p-correct", float), latency=args.latency, rpm=num("rpm", int),
        tpm=num("tpm", int), limit_window_s=num("limit-window-s", float),
        **{f"fault_{f}": num(f"fault-{f}", float) for f in _FAULTS},
        stall_s=num("stall-s", float), keepalive_interval_s=num("keepalive-interval-s", float),
        api_key=api_key, status_override=num("status-override", int),
        task_files=tuple(args.tasks))


def run_sim_from_args(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop."""
    config = config_from_args(args)
    asyncio.run(_serve(config, args.port_file))
    return 0


async def _serve(config: SimConfig, port_file: str | None) -> None:
    sim = TeacherSim(config)
    await sim.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises instead
            loop.add_signal_handler(sig, stop.set)
    try:
        log.info("teacher simulator listening on %s/v1", sim.url)
        if port_file:
            write_text_atomic(port_file, f"{sim.port}\n")
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distill.sim")
    add_sim_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_sim_from_args(args)
    except DistillError as exc:
        sys.stderr.write(f"distill teacher-sim: error: {exc}\n")
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

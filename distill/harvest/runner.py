"""run_harvest: send every planned request not yet in the cache, under limits, with retries.

Bounded workers per teacher (as many as its in-flight cap) pull from that teacher's queue, so a
million requests never become a million coroutines. Each request: limits → provider → cache.
Retries live here alone (tenacity, exponential backoff with jitter, transient failures only).
samples.jsonl is written at the end, atomically, in plan order, from the cache and this run's
errors, so a killed and restarted run ends with the same file an uninterrupted one writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from distill.config import Config, TeacherConfig
from distill.errors import (
    ConfigError,
    ProviderError,
    RateLimitedError,
    TeacherFatalError,
    TransientError,
)
from distill.harvest import event_loop
from distill.harvest.cache import SampleCache
from distill.harvest.limits import TeacherLimiter
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.prices import cost_usd, price_of
from distill.harvest.providers import Completion, Provider, make_provider
from distill.harvest.shards import harvest_places, write_manifest
from distill.jsonl import write_jsonl_atomic
from distill.records import Sample

log = logging.getLogger(__name__)


@dataclass
class HarvestStats:
    planned: int = 0
    cached: int = 0
    to_send: int = 0
    done: int = 0
    ok: int = 0
    errors: int = 0
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    started_at: float = field(default_factory=time.monotonic)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors_by_kind"] = dict(self.errors_by_kind)
        data["elapsed_s"] = round(time.monotonic() - self.started_at, 3)
        data.pop("started_at")
        return data


@dataclass
class HarvestResult:
    samples_path: Path
    stats: HarvestStats
    written: int
    fatal: dict[str, str]


ProgressFn = Callable[[HarvestStats], None]


def run_harvest(config: Config, progress: ProgressFn | None = None) -> HarvestResult:
    places = harvest_places(config)  # a shard's own folders under --shard (harvest.shards)
    plan = plan_of(config)
    stats = HarvestStats(planned=len(plan))
    cache = SampleCache(places.cache, places.read_also)
    samples_path = places.samples
    errors: dict[str, dict[str, Any]] = {}
    fatal: dict[str, str] = {}
    try:
        refresh = config.harvest.refresh
        pending = [r for r in _unique(plan) if refresh or r.key not in cache]
        stats.cached = len(plan) - len(pending)  # duplicates of one request count as hits
        stats.to_send = len(pending)
        if pending:
            keys = _api_keys(config, {r.teacher for r in pending})
            event_loop.run(
                _Harvester(config, cache, keys, stats, errors, fatal, progress).run(pending)
            )
        written = write_jsonl_atomic(samples_path, _samples_in_plan_order(plan, cache, errors))
        if places.shard is not None:
            write_manifest(places, plan, written)
    finally:
        cache.close()
    return HarvestResult(samples_path, stats, written, fatal)


def _unique(plan: list[PlannedRequest]) -> list[PlannedRequest]:
    seen: set[str] = set()
    unique = []
    for request in plan:
        if request.key not in seen:
            seen.add(request.key)
            unique.append(request)
    return unique


def _api_keys(config: Config, teachers: set[str]) -> dict[str, str]:
    """Read each needed key from its environment variable; fail before sending anything."""
    keys = {}
    for name in sorted(teachers):
        env = config.teachers[name].api_key_env
        if not env:
            keys[name] = ""
            continue
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(
                f"teacher {name!r}: environment variable {env} is not set; "
                f"export {env}=<your key> (named by teachers.{name}.api_key_env in {config.source})"
            )
        keys[name] = value
    return keys


def _samples_in_plan_order(
    plan: list[PlannedRequest], cache: SampleCache, errors: dict[str, dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    for request in plan:
        cached = cache.get(request.key)
        row = cached if cached is not None else errors.get(request.key)
        if row is None:
            continue  # never attempted: the teacher was stopped or the cost cap was reached
        # The key ignores task id and teacher name (the same request is the same answer).
        row = dict(row, task_id=request.task_id, teacher=request.teacher)
        yield row


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Harvester:
    def __init__(
        self,
        config: Config,
        cache: SampleCache,
        api_keys: dict[str, str],
        stats: HarvestStats,
        errors: dict[str, dict[str, Any]],
        fatal: dict[str, str],
        progress: ProgressFn | None,
    ) -> None:
        self.config = config
        self.cache = cache
        self.api_keys = api_keys
        self.stats = stats
        self.errors = errors
        self.fatal = fatal
        self.progress = progress

    async def run(self, pending: list[PlannedRequest]) -> None:
        by_teacher: dict[str, list[PlannedRequest]] = {}
        for request in pending:
            by_teacher.setdefault(request.teacher, []).append(request)
        workers = []
        providers: list[Provider] = []
        try:
            for name, requests in by_teacher.items():
                teacher = self.config.teachers[name]
                provider = make_provider(name, teacher, self.api_keys[name])
                providers.append(provider)
                limiter = TeacherLimiter(teacher.limits, max(r.charge for r in requests))
                queue: asyncio.Queue[PlannedRequest] = asyncio.Queue()
                for request in requests:
                    queue.put_nowait(request)
                count = min(teacher.limits.max_in_flight, len(requests))
                workers += [
                    self._worker(name, teacher, provider, limiter, queue) for _ in range(count)
                ]
            await asyncio.gather(*workers)
        finally:
            for provider in providers:
                await provider.aclose()

    async def _worker(
        self,
        name: str,
        teacher: TeacherConfig,
        provider: Provider,
        limiter: TeacherLimiter,
        queue: asyncio.Queue[PlannedRequest],
    ) -> None:
        cap = self.config.harvest.max_cost_usd
        while not queue.empty():
            request = queue.get_nowait()
            if name in self.fatal or (cap and self.stats.cost_usd >= cap):
                self.stats.skipped += 1
                continue
            try:
                row = await self._send(teacher, provider, limiter, request)
                self.cache.put(request.key, row)
                self.stats.ok += 1
            except TeacherFatalError as exc:
                if name not in self.fatal:
                    self.fatal[name] = str(exc)
                    log.error("%s", exc)
                self.stats.skipped += 1
                continue
            except ProviderError as exc:
                self.errors[request.key] = self._error_row(request, exc)
                self.stats.errors += 1
                self.stats.errors_by_kind[exc.kind] += 1
            self.stats.done += 1
            if self.progress is not None:
                self.progress(self.stats)

    async def _send(
        self,
        teacher: TeacherConfig,
        provider: Provider,
        limiter: TeacherLimiter,
        request: PlannedRequest,
    ) -> dict[str, Any]:
        settings = self.config.harvest
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.max_attempts),
            wait=wait_random_exponential(
                multiplier=settings.backoff_initial_s, max=settings.backoff_max_s
            ),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.stats.retries += 1
                await limiter.acquire(request.charge)
                self.stats.attempts += 1
                started = time.monotonic()
                try:
                    async with asyncio.timeout(teacher.timeout_s):
                        completion = await provider.complete(
                            request.messages, request.params, request.sample_index
                        )
                except TimeoutError:
                    raise TransientError(
                        f"no complete answer within timeout_s={teacher.timeout_s:g}",
                        kind="deadline",
                    ) from None
                except RateLimitedError as exc:  # 429, or 503/529 with Retry-After
                    # The whole teacher waits as long as the server asked; the next attempt
                    # goes through limiter.acquire, so it never comes earlier than that.
                    if exc.status == 429:
                        self.stats.rate_limited += 1
                    limiter.pause(exc.retry_after if exc.retry_after is not None else 1.0)
                    raise
                limiter.observe(completion.headers)
                usage = completion.usage
                limiter.settle(request.charge, usage.prompt_tokens + usage.completion_tokens)
                return self._ok_row(teacher, request, completion, time.monotonic() - started)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _ok_row(
        self, teacher: TeacherConfig, request: PlannedRequest, c: Completion, latency: float
    ) -> dict[str, Any]:
        cost = cost_usd(
            price_of(teacher),
            c.usage.prompt_tokens,
            c.usage.cached_tokens,
            c.usage.completion_tokens,
        )
        self.stats.prompt_tokens += c.usage.prompt_tokens
        self.stats.completion_tokens += c.usage.completion_tokens
        self.stats.cost_usd += cost
        return replace(
            _sample_of(request, "ok"),
            model=c.model,
            reasoning=c.reasoning,
            reasoning_kind=c.reasoning_kind,
            content=c.content,
            finish_reason=c.finish_reason,
            usage=c.usage,
            cost_usd=round(cost, 8),
            latency_s=round(latency, 4),
        ).to_dict()

    def _error_row(self, request: PlannedRequest, exc: ProviderError) -> dict[str, Any]:
        error = {"type": type(exc).__name__, "kind": exc.kind, "message": str(exc)}
        return replace(_sample_of(request, "error"), error=error).to_dict()


def _sample_of(request: PlannedRequest, status: str) -> Sample:
    """What every sample of a request carries, answered or not."""
    return Sample(
        task_id=request.task_id,
        sample_index=request.sample_index,
        teacher=request.teacher,
        request_key=request.key,
        messages=request.messages,
        status=status,
        created_at=_now(),
    )

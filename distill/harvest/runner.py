"""run_harvest: send every planned request not yet in the cache, under limits, with retries.

Bounded workers per teacher (as many as its in-flight cap) pull from that teacher's queue, so a
million requests never become a million coroutines. Each request: limits → provider → cache.
Retries live here alone (tenacity, exponential backoff with jitter, transient failures only).
Adaptive teachers (accept_per_task) send in waves decided by distill.harvest.adaptive from the
verdicts of a `Judge` the caller passes in (harvest never imports grade); batch teachers go
through their provider's Batch API (distill.harvest.batch).
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from distill.harvest import adaptive, event_loop
from distill.harvest.adaptive import Group, Judge
from distill.harvest.cache import SampleCache
from distill.harvest.limits import TeacherLimiter
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.providers import Provider, make_provider
from distill.harvest.rows import error_row, ok_row
from distill.harvest.shards import HarvestPlaces, harvest_places, write_manifest
from distill.jsonl import write_jsonl_atomic

if TYPE_CHECKING:
    from distill.harvest.batch import BatchLane

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
    cache_hit_tokens: int = 0  # prompt tokens the provider read from its prompt cache
    cache_write_tokens: int = 0
    cache_saving_usd: float = 0.0  # against the same prompts sent uncached
    batch_submitted: int = 0  # requests put into batches this run
    batch_collected: int = 0  # answers taken from ended batches this run
    batch_open: int = 0  # requests still in batches that have not ended
    batch_ids: list[str] = field(default_factory=list)
    # Adaptive teachers: teacher → tasks, samples, accepted, saturated, gave_up, exhausted, ...
    adaptive: dict[str, dict[str, int]] = field(default_factory=dict)
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


def run_harvest(
    config: Config, progress: ProgressFn | None = None, judge: Judge | None = None
) -> HarvestResult:
    """Harvest `config`'s plan. `judge` grades answers as they arrive; adaptive teachers need
    one (distill.pipeline.harvest_stage passes the graders), fixed ones never use it."""
    places = harvest_places(config)  # a shard's own folders under --shard (harvest.shards)
    plan = plan_of(config)
    stats = HarvestStats(planned=len(plan))
    waved = {name for name, t in config.teachers.items() if t.adaptive or t.mode == "batch"}
    if judge is None and any(t.adaptive for t in config.teachers.values()):
        raise ConfigError(
            f"{config.source}: adaptive sampling (accept_per_task) grades answers as they "
            "arrive: run it with `distill harvest` or `distill run`"
        )
    cache = SampleCache(places.cache, places.read_also)
    samples_path = places.samples
    errors: dict[str, dict[str, Any]] = {}
    fatal: dict[str, str] = {}
    chosen: set[tuple[str, str, int]] = set()
    try:
        refresh = config.harvest.refresh
        fixed = [r for r in plan if r.teacher not in waved]
        pending = [r for r in _unique(fixed) if refresh or r.key not in cache]
        stats.cached = len(fixed) - len(pending)  # duplicates of one request count as hits
        stats.to_send = len(pending)
        groups = adaptive.groups_of([r for r in plan if r.teacher in waved], config)
        # Fixed teachers' keys are checked before anything is sent; an adaptive or batch
        # teacher's only once it has something to send (a settled night needs no key).
        keys = _api_keys(config, {r.teacher for r in pending})
        if pending or groups:
            harvester = _Harvester(config, places, cache, keys, stats, errors, fatal, progress)
            chosen = event_loop.run(harvester.run(pending, groups, judge))
        rows = _samples_in_plan_order(plan, cache, errors, waved, chosen)
        written = write_jsonl_atomic(samples_path, rows)
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
    return {name: api_key(config, name) for name in sorted(teachers)}


def api_key(config: Config, name: str) -> str:
    """A teacher's key from the environment variable its config names ("" when it names none)."""
    env = config.teachers[name].api_key_env
    if not env:
        return ""
    value = os.environ.get(env, "").strip()
    if not value:
        raise ConfigError(
            f"teacher {name!r}: environment variable {env} is not set; "
            f"export {env}=<your key> (named by teachers.{name}.api_key_env in {config.source})"
        )
    return value


def _samples_in_plan_order(
    plan: list[PlannedRequest],
    cache: SampleCache,
    errors: dict[str, dict[str, Any]],
    waved: set[str],
    chosen: set[tuple[str, str, int]],
) -> Iterator[dict[str, Any]]:
    for request in plan:
        if request.teacher in waved and (
            (request.task_id, request.teacher, request.sample_index) not in chosen
        ):
            continue  # an adaptive task stopped before this sample, or its batch is still out
        cached = cache.get(request.key)
        row = cached if cached is not None else errors.get(request.key)
        if row is None:
            continue  # never attempted: the teacher was stopped or the cost cap was reached
        # The key ignores task id and teacher name (the same request is the same answer).
        row = dict(row, task_id=request.task_id, teacher=request.teacher)
        yield row


@dataclass
class _Lane:
    """One sync teacher's provider, limiter and in-flight cap."""

    provider: Provider
    limiter: TeacherLimiter
    slots: asyncio.Semaphore


class _Harvester:
    def __init__(
        self,
        config: Config,
        places: HarvestPlaces,
        cache: SampleCache,
        api_keys: dict[str, str],
        stats: HarvestStats,
        errors: dict[str, dict[str, Any]],
        fatal: dict[str, str],
        progress: ProgressFn | None,
    ) -> None:
        self.config = config
        self.places = places
        self.cache = cache
        self.api_keys = api_keys
        self.stats = stats
        self.errors = errors
        self.fatal = fatal
        self.progress = progress
        self._lanes: dict[str, _Lane] = {}
        self._max_charge: dict[str, int] = {}
        self._in_flight: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._answered: dict[str, dict[str, Any]] = {}  # this run's answers (for --refresh)
        self._batch_lanes: dict[str, BatchLane] = {}

    async def run(
        self, pending: list[PlannedRequest], groups: list[Group], judge: Judge | None
    ) -> set[tuple[str, str, int]]:
        """Send `pending` (fixed sync teachers) and drive `groups` (adaptive or batch teachers);
        the (task, teacher, sample index) of every sample the groups chose."""
        for request in pending:
            self._note_charge(request)
        for group in groups:
            for request in group.requests:
                self._note_charge(request)
        by_teacher: dict[str, list[PlannedRequest]] = {}
        for request in pending:
            by_teacher.setdefault(request.teacher, []).append(request)
        workers = []
        try:
            for name, requests in by_teacher.items():
                queue: asyncio.Queue[PlannedRequest] = asyncio.Queue()
                for request in requests:
                    queue.put_nowait(request)
                lane = self._lane(name)
                count = min(self.config.teachers[name].limits.max_in_flight, len(requests))
                workers += [self._worker(name, lane, queue) for _ in range(count)]
            driver = adaptive.Driver(self.config, self, judge, self.stats)
            chosen, _ = await asyncio.gather(driver.run(groups), asyncio.gather(*workers))
            return chosen
        finally:
            for lane in self._lanes.values():
                await lane.provider.aclose()
            for batch in self._batch_lanes.values():
                await batch.aclose()

    def batch_lane(self, name: str) -> BatchLane:
        """A batch teacher's submitted batches (their ids live in the output directory)."""
        lane = self._batch_lanes.get(name)
        if lane is None:
            from distill.harvest.batch import BatchLane

            teacher = self.config.teachers[name]
            lane = BatchLane(name, teacher, self._key(name), self.places.out, self.cache,
                             self.stats, self.errors, self.config.harvest)  # fmt: skip
            self._batch_lanes[name] = lane
        return lane

    def _key(self, name: str) -> str:
        if name not in self.api_keys:
            self.api_keys[name] = api_key(self.config, name)
        return self.api_keys[name]

    def _note_charge(self, request: PlannedRequest) -> None:
        known = self._max_charge.get(request.teacher, 0)
        self._max_charge[request.teacher] = max(known, request.charge)

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            teacher = self.config.teachers[name]
            provider = make_provider(name, teacher, self._key(name))
            limiter = TeacherLimiter(teacher.limits, self._max_charge.get(name, 1))
            lane = _Lane(provider, limiter, asyncio.Semaphore(teacher.limits.max_in_flight))
            self._lanes[name] = lane
        return lane

    def cached(self, request: PlannedRequest) -> dict[str, Any] | None:
        """The answer already paid for: this run's, or (without --refresh) the cache's."""
        row = self._answered.get(request.key)
        if row is None:
            batch = self._batch_lanes.get(request.teacher)
            if not self.config.harvest.refresh or (batch and request.key in batch.collected):
                row = self.cache.get(request.key)
        return row

    async def fetch(self, request: PlannedRequest) -> dict[str, Any] | None:
        """One request's row (an answer or an error), sent only when nothing has it yet; None
        when it was not sent (its teacher refused us or the cost cap was reached). Two callers
        asking for one key share a single request."""
        row = self.cached(request)
        if row is not None:
            self.stats.cached += 1
            return row
        if request.key in self.errors:  # failed after every retry this run: not again
            return self.errors[request.key]
        running = self._in_flight.get(request.key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._in_flight[request.key] = future
        try:
            self.stats.to_send += 1
            lane = self._lane(request.teacher)
            async with lane.slots:
                row = await self._process(request.teacher, lane, request)
            future.set_result(row)
            return row
        finally:
            del self._in_flight[request.key]
            if not future.done():
                future.cancel()

    async def _worker(self, name: str, lane: _Lane, queue: asyncio.Queue[PlannedRequest]) -> None:
        while not queue.empty():
            await self._process(name, lane, queue.get_nowait())

    async def _process(
        self, name: str, lane: _Lane, request: PlannedRequest
    ) -> dict[str, Any] | None:
        cap = self.config.harvest.max_cost_usd
        if name in self.fatal or (cap and self.stats.cost_usd >= cap):
            self.stats.skipped += 1
            return None
        teacher = self.config.teachers[name]
        row: dict[str, Any]
        try:
            row = await self._send(teacher, lane, request)
            self.cache.put(request.key, row)
            if self.config.harvest.refresh:
                self._answered[request.key] = row
            self.stats.ok += 1
        except TeacherFatalError as exc:
            if name not in self.fatal:
                self.fatal[name] = str(exc)
                log.error("%s", exc)
            self.stats.skipped += 1
            return None
        except ProviderError as exc:
            row = self.errors[request.key] = error_row(request, exc)
            self.stats.errors += 1
            self.stats.errors_by_kind[exc.kind] += 1
        self.stats.done += 1
        if self.progress is not None:
            self.progress(self.stats)
        return row

    async def _send(
        self, teacher: TeacherConfig, lane: _Lane, request: PlannedRequest
    ) -> dict[str, Any]:
        settings = self.config.harvest
        provider, limiter = lane.provider, lane.limiter
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
                latency = time.monotonic() - started
                return ok_row(teacher, request, completion, latency, self.stats)
        raise AssertionError("unreachable: tenacity reraises the last error")

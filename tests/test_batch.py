"""Batch teachers against the simulator's Batch APIs (OpenAI files + batches, Anthropic message
batches) over real HTTP: submit, collect, expiry, failures, attempts, crashes, fatal servers."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from factories import sim_stats, teacher_toml, write_config

from distill.config import Config, load_config
from distill.errors import TeacherFatalError, TransientError
from distill.harvest.batch import BatchLane
from distill.harvest.batch.api import BatchInfo, Item
from distill.harvest.batch.store import custom_id
from distill.harvest.cache import SampleCache
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.runner import HarvestStats, run_harvest
from distill.harvest.shards import harvest_places
from distill.records import iter_samples
from distill.sim import SimConfig, running_sim

T = TypeVar("T")
MODELS = {"openai_compat": "sim-r1", "anthropic": "sim-claude"}
KEY = "sk-batch-secret-4242"
CACHES: list[SampleCache] = []


@pytest.fixture(autouse=True)
def _close_caches() -> Iterator[None]:
    yield
    while CACHES:
        CACHES.pop().close()


@pytest.fixture(params=sorted(MODELS))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def config_of(
    tmp: Path,
    url: str,
    provider: str,
    mode: str = "batch",
    transport: str = "aiohttp",
    **harvest: Any,
) -> Config:
    """Teacher `b` (2 samples of each math example task) priced at $2 / $8 per M tokens."""
    extra = f'mode = "{mode}"\ntransport = "{transport}"\n[teachers.b.price]\ninput = 2.0\noutput = 8.0\n'
    teacher = teacher_toml(url, name="b", provider=provider, model=MODELS[provider], extra=extra)
    tmp.mkdir(parents=True, exist_ok=True)
    path = write_config(tmp, url, kinds=("math",), teacher=teacher)
    text = path.read_text().replace("[harvest]\n", "[harvest]\nbatch_poll_s = 0.02\n")
    for key, value in harvest.items():  # write_config sets max_attempts: replace, never repeat
        text = re.sub(rf"^{key} = .*$", "", text, flags=re.M)
        text = text.replace("[harvest]\n", f"[harvest]\n{key} = {json.dumps(value)}\n")
    path.write_text(text)
    return load_config(path)


class Run:
    """One night's harvest state for batch teacher `b`: config, plan, cache, stats, errors."""

    def __init__(self, tmp: Path, url: str, provider: str, **settings: Any) -> None:
        self.config = config_of(tmp, url, provider, **settings)
        self.plan: list[PlannedRequest] = plan_of(self.config)
        places = harvest_places(self.config)
        self.out = places.out
        self.cache = SampleCache(places.cache)
        CACHES.append(self.cache)
        self.stats = HarvestStats(planned=len(self.plan))
        self.errors: dict[str, dict[str, Any]] = {}

    def lane(self, key: str = "") -> BatchLane:
        teacher = self.config.teachers["b"]
        return BatchLane("b", teacher, key, self.out, self.cache, self.stats, self.errors,
                         self.config.harvest)  # fmt: skip

    def keys(self) -> set[str]:
        return {r.key for r in self.plan}

    def cached(self) -> set[str]:
        return {r.key for r in self.plan if r.key in self.cache}


def run(make: Callable[[], BatchLane], work: Callable[[BatchLane], Awaitable[T]]) -> T:
    """`work` on a lane made inside the event loop (its SDK clients belong to that loop)."""

    async def go() -> T:
        lane = make()
        try:
            return await work(lane)
        finally:
            await lane.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_submit_then_collect_caches_sync_rows_at_half_price(
    tmp_path: Path, provider: str, transport: str
) -> None:
    with running_sim(SimConfig(seed=5, batch_delay_s=0)) as url:
        night = Run(tmp_path / "batch", url, provider, transport=transport)

        async def work(lane: BatchLane) -> tuple[int, int, int]:
            return (
                await lane.submit(night.plan),
                await lane.collect(),
                await lane.submit(night.plan),
            )

        submitted, collected, again = run(night.lane, work)
        stats = sim_stats(url)
        sync = run_harvest(config_of(tmp_path / "sync", url, provider, mode="sync"))
    n = len(night.plan)
    assert (submitted, collected, again) == (n, n, 0)
    assert night.cached() == night.keys()
    assert (night.stats.batch_submitted, night.stats.batch_collected) == (n, n)
    assert night.stats.batch_open == 0 and night.stats.ok == n
    assert len(night.stats.batch_ids) == 1 and stats["batches_created"] == 1
    assert stats["batch_items"] == n
    sync_rows = {s.request_key: s.to_dict() for s in iter_samples(sync.samples_path)}
    assert set(sync_rows) == night.keys()  # the same requests, whichever way they were sent
    for key, sample in sync_rows.items():
        row = night.cache.get(key)
        assert row is not None and row["status"] == "ok" and row["content"]
        assert set(row) == set(sample) and row["usage"] == sample["usage"]
        assert row["cost_usd"] == pytest.approx(sample["cost_usd"] / 2, rel=1e-6)
    assert night.stats.cost_usd == pytest.approx(sync.stats.cost_usd / 2, rel=1e-6)


def test_an_open_batch_is_collected_only_once_it_ends(tmp_path: Path, provider: str) -> None:
    with running_sim(SimConfig(batch_delay_s=1.5)) as url:
        night = Run(tmp_path, url, provider)

        async def work(lane: BatchLane) -> tuple[int, set[str], int, set[str]]:
            await lane.submit(night.plan)
            early = await lane.collect()
            open_then = lane.open_keys()
            await lane.wait()
            return early, open_then, night.stats.batch_open, lane.open_keys()

        early, open_then, still_open, open_after = run(night.lane, work)
    assert early == 0 and open_then == night.keys()
    assert still_open == 0 and open_after == set()
    assert night.cached() == night.keys()


def faulty(fault: str, rate: float, **options: Any) -> SimConfig:
    """A simulator whose batch items meet `fault` (batch_expire_rate or batch_fail_rate)."""
    return SimConfig(**{"batch_delay_s": 0, fault: rate, **options})


@pytest.mark.parametrize("fault", ["batch_expire_rate", "batch_fail_rate"])
def test_partial_results_are_kept_and_the_rest_resubmitted(
    tmp_path: Path, provider: str, fault: str
) -> None:
    """The simulator decides an item's fate by its custom_id, so the items that expired (or
    failed) do again on the same server; the next night meets a healthy one on the same port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def work(lane: BatchLane) -> tuple[int, int]:
        return await lane.submit(night.plan), await lane.collect()

    with running_sim(faulty(fault, 0.5, port=port, seed=11)) as url:
        night = Run(tmp_path, url, provider, max_attempts=3)
        n = len(night.plan)
        assert run(night.lane, work)[0] == n
        first = set(night.cached())
        assert 0 < len(first) < n  # some answers came back from the broken batch: kept
        assert run(night.lane, work) == (n - len(first), 0)  # only the missing went again
        broken = sim_stats(url)
    with running_sim(SimConfig(port=port, batch_delay_s=0)) as url:
        night.stats = HarvestStats()
        assert run(night.lane, work) == (n - len(first), n - len(first))
        healthy = sim_stats(url)
    counter = "batch_items_expired" if fault == "batch_expire_rate" else "batch_items_failed"
    assert broken["batch_items"] == len(first) and broken[counter] == 2 * (n - len(first))
    assert healthy["batch_items"] == n - len(first) and healthy["duplicate_ok_answers"] == 0
    assert night.cached() == night.keys() and night.errors == {}


@pytest.mark.parametrize(
    ("fault", "kind"), [("batch_expire_rate", "batch_expired"), ("batch_fail_rate", "batch_failed")]
)
def test_after_max_attempts_a_request_gets_an_error_row(
    tmp_path: Path, provider: str, fault: str, kind: str
) -> None:
    with running_sim(faulty(fault, 1.0)) as url:
        night = Run(tmp_path, url, provider, max_attempts=2)

        async def work(lane: BatchLane) -> list[int]:
            sent = []
            for _ in range(3):
                sent.append(await lane.submit(night.plan))
                await lane.collect()
            return sent

        sent = run(night.lane, work)
        stats = sim_stats(url)
    n = len(night.plan)
    counter = "batch_items_expired" if kind == "batch_expired" else "batch_items_failed"
    assert sent == [n, n, 0] and stats[counter] == 2 * n and stats["batch_items"] == 0
    assert set(night.errors) == night.keys() and night.cached() == set()
    for row in night.errors.values():
        assert row["status"] == "error" and row["error"]["kind"] == kind
        assert "\n" not in row["error"]["message"]
    assert night.stats.errors == n and night.stats.errors_by_kind[kind] == n


def test_the_next_night_collects_what_a_crashed_one_submitted(
    tmp_path: Path, provider: str
) -> None:
    with running_sim(SimConfig(batch_delay_s=1.0)) as url:
        first = Run(tmp_path, url, provider)
        run(first.lane, lambda lane: lane.submit(first.plan))  # then the process dies
        state = json.loads((tmp_path / "out" / "batches" / "b.json").read_text())
        assert [s["batch_id"] for s in state["submissions"]] == first.stats.batch_ids
        night = Run(tmp_path, url, provider)  # a new process: nothing in memory

        async def work(lane: BatchLane) -> tuple[set[str], int]:
            seen, sent = lane.open_keys(), await lane.submit(night.plan)
            await lane.wait()
            return seen, sent

        seen, sent = run(night.lane, work)
        stats = sim_stats(url)
    assert seen == night.keys() and sent == 0
    assert night.cached() == night.keys() and night.stats.batch_collected == len(night.plan)
    assert stats["batches_created"] == 1 and stats["batch_items"] == len(night.plan)
    assert stats["duplicate_ok_answers"] == 0
    assert not list((tmp_path / "out" / "batches" / "b").iterdir())  # collected: forgotten


class Crash(BaseException):
    """The process dies (SIGKILL) at this point."""


@pytest.mark.parametrize("created", [True, False], ids=["after-create", "before-create"])
def test_a_crash_around_create_is_recovered_without_paying_twice(
    tmp_path: Path, provider: str, created: bool
) -> None:
    """Killed after the submission was recorded: after the batch was created (OpenAI adopts it
    by its metadata, Anthropic by time and count) or before (it is forgotten and sent again)."""
    with running_sim(SimConfig(batch_delay_s=0)) as url:
        first = Run(tmp_path, url, provider)

        async def crash(lane: BatchLane) -> int:
            create = lane.api.create

            async def crashing(submission: str, items: list[bytes]) -> str:
                if created:
                    await create(submission, items)
                raise Crash

            lane.api.create = crashing  # type: ignore[method-assign]
            return await lane.submit(first.plan)

        with pytest.raises(Crash):
            run(first.lane, crash)
        state = json.loads((tmp_path / "out" / "batches" / "b.json").read_text())
        assert [s["batch_id"] for s in state["submissions"]] == [""]
        night = Run(tmp_path, url, provider)

        async def work(lane: BatchLane) -> tuple[set[str], int, int, int]:
            seen = lane.open_keys()
            return seen, await lane.collect(), await lane.submit(night.plan), await lane.collect()

        seen, collected, sent, later = run(night.lane, work)
        stats = sim_stats(url)
    n = len(night.plan)
    assert seen == night.keys()
    assert (collected, sent, later) == ((n, 0, 0) if created else (0, n, n))
    assert night.cached() == night.keys()
    assert stats["batches_created"] == 1 and stats["batch_items"] == n


def test_requests_are_split_by_the_providers_limits(tmp_path: Path, provider: str) -> None:
    with running_sim(SimConfig(batch_delay_s=0)) as url:
        night = Run(tmp_path, url, provider)
        sizes: list[int] = []

        async def work(lane: BatchLane) -> tuple[int, int]:
            for r in night.plan:
                sizes.append(
                    len(lane.api.encode(custom_id(r), lane.provider.body(r.messages, r.params)))
                )
            lane.api.max_requests = 3
            lane.api.max_bytes = int(max(sizes) * 2.5)
            return await lane.submit(night.plan), await lane.collect()

        submitted, collected = run(night.lane, work)
        stats = sim_stats(url)
    expected, size, count = 1, 0, 0  # batches of at most 3 and under max_bytes, in plan order
    for item in sizes:
        if count and (count >= 3 or size + item > int(max(sizes) * 2.5)):
            expected, size, count = expected + 1, 0, 0
        size, count = size + item + 1, count + 1
    n = len(night.plan)
    assert submitted == collected == n and night.cached() == night.keys()
    assert expected > n // 3  # the byte limit split some
    assert stats["batches_created"] == len(night.stats.batch_ids) == expected
    assert stats["batch_items"] == n


def test_a_download_that_breaks_off_keeps_what_it_read_and_the_batch(
    tmp_path: Path, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_sim(SimConfig(batch_delay_s=0)) as url:
        night = Run(tmp_path, url, provider, max_attempts=1)

        async def work(lane: BatchLane) -> tuple[int, set[str], int]:
            results = lane.api.results

            async def breaking(info: BatchInfo) -> AsyncIterator[Item]:
                count = 0
                async for item in results(info):
                    if count == 5:
                        raise TransientError("teacher 'b': connection failed (reset)")
                    count += 1
                    yield item

            lane.api.results = breaking  # type: ignore[method-assign]
            await lane.submit(night.plan)
            partial = await lane.collect()
            still_open = lane.open_keys()
            lane.api.results = results  # type: ignore[method-assign]
            return partial, still_open, await lane.collect()

        partial, still_open, rest = run(night.lane, work)
        stats = sim_stats(url)
    n = len(night.plan)
    assert partial == 5 and still_open == night.keys()  # the batch is kept until read whole
    assert rest == n - 5 and night.cached() == night.keys() and night.errors == {}
    assert night.stats.batch_collected == n and stats["batches_created"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "connection failed" in warnings[0] and "\n" not in warnings[0]


def test_an_unreachable_server_keeps_the_state_and_a_lost_batch_is_sent_again(
    tmp_path: Path, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running_sim(SimConfig(port=port, batch_delay_s=60)) as url:
        night = Run(tmp_path, url, provider)
        run(night.lane, lambda lane: lane.submit(night.plan))
    state = (tmp_path / "out" / "batches" / "b.json").read_text()

    async def collect(lane: BatchLane) -> tuple[int, set[str]]:
        return await lane.collect(), lane.open_keys()

    assert run(night.lane, collect) == (0, night.keys())  # nobody answers: try again later
    assert (tmp_path / "out" / "batches" / "b.json").read_text() == state
    assert "trying again at the next poll" in caplog.text
    with running_sim(SimConfig(port=port, batch_delay_s=0)) as url:  # it lost every batch

        async def resend(lane: BatchLane) -> tuple[int, set[str], int, int]:
            return *(await collect(lane)), await lane.submit(night.plan), await lane.collect()

        result = run(night.lane, resend)
    n = len(night.plan)
    assert result == (0, set(), n, n) and night.cached() == night.keys()
    assert "is not on the server" in caplog.text


def test_unknown_ids_and_malformed_answers_do_not_stop_a_collect(
    tmp_path: Path, provider: str
) -> None:
    with running_sim(SimConfig(batch_delay_s=0)) as url:
        night = Run(tmp_path, url, provider, max_attempts=1)
        broken = custom_id(night.plan[0])

        async def work(lane: BatchLane) -> int:
            results = lane.api.results

            async def tampered(info: BatchInfo) -> AsyncIterator[Item]:
                yield Item("s0-not-ours", body={})
                async for item in results(info):
                    yield Item(broken, body={"no": "content"}) if item.custom_id == broken else item

            lane.api.results = tampered  # type: ignore[method-assign]
            await lane.submit(night.plan)
            return await lane.collect()

        collected = run(night.lane, work)
    assert collected == len(night.plan) - 1
    assert night.cached() == night.keys() - {night.plan[0].key}
    assert set(night.errors) == {night.plan[0].key}
    assert night.errors[night.plan[0].key]["error"]["kind"] == "batch_failed"


def test_a_server_without_batch_api_is_one_fatal_line(tmp_path: Path, provider: str) -> None:
    with running_sim(SimConfig()) as url:
        elsewhere = url.removesuffix("/v1") + "/nothing/v1"  # every path here is a 404
        night = Run(tmp_path, elsewhere, provider)
        with pytest.raises(TeacherFatalError) as caught:
            run(night.lane, lambda lane: lane.submit(night.plan))
    path = "/v1/files" if provider == "openai_compat" else "/v1/messages/batches"
    assert str(caught.value) == (
        f"teacher 'b': {elsewhere} has no Batch API (HTTP 404 on {path}); "
        'set teachers.b.mode = "sync"'
    )
    state = json.loads((tmp_path / "out" / "batches" / "b.json").read_text())
    assert state["submissions"] == []  # refused: nothing open, nothing to recover


def test_the_api_key_is_in_no_file_and_no_error(tmp_path: Path, provider: str) -> None:
    with running_sim(SimConfig(api_key=KEY, batch_delay_s=0, batch_expire_rate=0.3)) as url:
        night = Run(tmp_path / "right", url, provider, max_attempts=1)

        async def work(lane: BatchLane) -> int:
            await lane.submit(night.plan)
            return await lane.collect()

        assert run(lambda: night.lane(KEY), work) > 0
        assert night.errors  # the expired ones, after their one attempt
        wrong = Run(tmp_path / "wrong", url, provider)
        with pytest.raises(TeacherFatalError) as caught:
            run(lambda: wrong.lane(KEY + "x"), lambda lane: lane.submit(wrong.plan))
    assert KEY not in str(caught.value) and "HTTP 401" in str(caught.value)
    assert KEY not in json.dumps(night.errors)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "b.json" for p in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path

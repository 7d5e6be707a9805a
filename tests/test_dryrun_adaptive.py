"""`distill harvest --dry-run` for adaptive teachers: the range of requests and dollars between
every answer passing and every task getting its most, the cache subtracted, batch rates, and
the expected figure from an earlier pass rate under the stopping rule, computed exactly."""

from __future__ import annotations

import io
import re
from itertools import product
from pathlib import Path

import pytest
from factories import graded_row, run_cli, sim_stats, teacher_toml, write_config, write_jsonl
from rich.console import Console

from distill.cli.console import harvest_table
from distill.config import TeacherConfig, load_config
from distill.harvest.adaptive import decide
from distill.harvest.cache import SampleCache
from distill.harvest.dryrun import TeacherEstimate, dry_run, stopping
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.shards import harvest_places
from distill.sim import SimConfig, running_sim

URL = "http://127.0.0.1:9"  # nothing is sent
IN, OUT, MAX_TOKENS = 2.0, 8.0, 1000  # USD per million tokens; max_tokens per answer
CACHED_TASKS = 4  # tasks whose answer 0 is in the cache


def _adaptive(name: str, extra: str = "") -> str:
    return teacher_toml(
        URL,
        name=name,
        samples_per_task=1,
        extra=f"accept_per_task = 1\nmax_samples_per_task = 3\nmax_tokens = {MAX_TOKENS}\n"
        f"price = {{ input = {IN}, output = {OUT} }}\n{extra}",
    )


def _usd(requests: list[PlannedRequest], weight: dict[int, float] | None = None) -> float:
    """What these requests cost at most (prompt estimate + max_tokens), weighted by index."""
    total = 0.0
    for r in requests:
        prompt = r.charge - MAX_TOKENS
        total += (weight or {}).get(r.sample_index, 1.0) * (prompt * IN + MAX_TOKENS * OUT) / 1e6
    return total


def _estimate(plan_estimates: list[TeacherEstimate], name: str) -> TeacherEstimate:
    return next(t for t in plan_estimates if t.teacher == name)


def _key(path: Path, task_id: str, index: int) -> str:
    wanted = ("ad", task_id, index)
    plan = plan_of(load_config(path))
    return next(r.key for r in plan if (r.teacher, r.task_id, r.sample_index) == wanted)


def _setup(
    tmp_path: Path, mode: str = "sync", cached_tasks: int = CACHED_TASKS
) -> tuple[Path, list[PlannedRequest]]:
    teachers = _adaptive("ad", f'mode = "{mode}"') + teacher_toml(
        URL, name="fixed", samples_per_task=2, extra=f"price = {{ input = {IN}, output = {OUT} }}"
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_config(tmp_path, URL, kinds=("math",), teacher=teachers)
    config = load_config(path)
    plan = [r for r in plan_of(config) if r.teacher == "ad"]
    tasks = sorted({r.task_id for r in plan})
    cached = [r for r in plan if r.sample_index == 0 and r.task_id in tasks[:cached_tasks]]
    cache = SampleCache(harvest_places(config).cache)
    try:
        for r in cached:
            cache.put(r.key, {"status": "ok", "content": "cached"})
    finally:
        cache.close()
    return path, [r for r in plan if r not in cached]


def test_range_subtracts_the_cache_and_prices_max_tokens(tmp_path: Path) -> None:
    path, uncached = _setup(tmp_path)
    tasks = len({r.task_id for r in uncached})
    assert tasks == 12
    result = dry_run(load_config(path))
    ad = _estimate(result.teachers, "ad")
    assert ad.adaptive and not ad.batch and ad.tasks == tasks
    assert (ad.planned, ad.cached) == (3 * tasks, CACHED_TASKS)
    assert ad.min_to_send == tasks - CACHED_TASKS  # answer 0 of every uncached task
    assert ad.to_send == 3 * tasks - CACHED_TASKS  # all three of every task, less the cache
    firsts = [r for r in uncached if r.sample_index == 0]
    assert ad.min_cost_usd == pytest.approx(_usd(firsts), rel=1e-12)
    assert ad.max_cost_usd == pytest.approx(_usd(uncached), rel=1e-12)
    assert ad.max_completion_tokens == ad.to_send * MAX_TOKENS
    # no graded.jsonl: no pass rate, no expected figure
    assert ad.pass_rate is None and ad.expected_to_send is None and ad.expected_cost_usd is None

    fixed = _estimate(result.teachers, "fixed")  # unchanged: one figure
    assert not fixed.adaptive and fixed.to_send == fixed.min_to_send == 2 * tasks
    assert fixed.min_cost_usd == fixed.max_cost_usd == fixed.expected_cost_usd
    assert fixed.expected_to_send == fixed.to_send


def test_batch_rates_halve_the_cost(tmp_path: Path) -> None:
    sync = _estimate(dry_run(load_config(_setup(tmp_path / "s")[0])).teachers, "ad")
    batch = _estimate(dry_run(load_config(_setup(tmp_path / "b", "batch")[0])).teachers, "ad")
    assert batch.batch and (batch.min_to_send, batch.to_send) == (sync.min_to_send, sync.to_send)
    assert batch.min_cost_usd == pytest.approx(sync.min_cost_usd / 2, rel=1e-12)
    assert batch.max_cost_usd == pytest.approx(sync.max_cost_usd / 2, rel=1e-12)
    assert batch.prompt_cost_usd == pytest.approx(sync.prompt_cost_usd / 2, rel=1e-12)


def test_expected_figure_from_the_earlier_pass_rate(tmp_path: Path) -> None:
    path, uncached = _setup(tmp_path)
    task = {"id": "x", "prompt": "q"}
    rows = [graded_row(task, i, v, teacher="ad", cost_usd=0.01)
            for i, v in enumerate(("pass", "fail", "pass", "suspect", "ungradeable"))]  # fmt: skip
    rows.append(graded_row(task, 9, "fail", teacher="other"))  # another teacher's: not counted
    write_jsonl(tmp_path / "out" / "graded.jsonl", rows)
    ad = _estimate(dry_run(load_config(path)).teachers, "ad")
    assert ad.pass_rate == 0.5  # 2 passes of 4 judged (ungradeable is not judged)
    # k = 1, n = 3: answer 1 is asked for when answer 0 failed, answer 2 when both did
    assert ad.expected_per_task == 1.75
    reach = {0: 1.0, 1: 0.5, 2: 0.25}
    assert ad.expected_to_send == pytest.approx(sum(reach[r.sample_index] for r in uncached))
    assert ad.expected_to_send == pytest.approx((12 - CACHED_TASKS) * 1.75 + CACHED_TASKS * 0.75)
    assert ad.expected_cost_usd == pytest.approx(_usd(uncached, reach), rel=1e-12)
    assert ad.min_cost_usd < ad.expected_cost_usd < ad.max_cost_usd


def test_cached_graded_answers_are_replayed_through_the_rule(tmp_path: Path) -> None:
    # Answer 0 is cached for tasks 0-7: it passed for 0-3 (those tasks are done), failed for
    # 4-7 (they need answer 1 at least, answer 2 when that fails too); 8-11 have nothing.
    path, uncached = _setup(tmp_path, cached_tasks=8)
    cached = sorted({r.task_id for r in plan_of(load_config(path)) if r.teacher == "ad"})[:8]
    rows = [
        graded_row({"id": t, "prompt": "q"}, 0, "pass" if i < 4 else "fail", teacher="ad",
                   request_key=_key(path, t, 0))
        for i, t in enumerate(cached)
    ]  # fmt: skip
    write_jsonl(tmp_path / "out" / "graded.jsonl", rows)
    ad = _estimate(dry_run(load_config(path)).teachers, "ad")
    assert ad.cached == 8 and ad.settled == 4 and ad.pass_rate == 0.5
    assert ad.min_to_send == 4 + 4  # answer 0 of the fresh tasks, answer 1 of the failed ones
    assert ad.to_send == 4 * 3 + 4 * 2  # nothing for the tasks that passed
    assert ad.expected_to_send == pytest.approx(4 * 1.75 + 4 * 1.5)
    fresh = [r for r in uncached if r.task_id not in cached[:4]]
    assert ad.max_cost_usd == pytest.approx(_usd(fresh), rel=1e-12)


def test_a_finished_adaptive_run_leaves_nothing_to_send(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=3, p_correct=0.5)) as url:
        teacher = teacher_toml(url, name="ad", samples_per_task=1,
                               extra="accept_per_task = 1\nmax_samples_per_task = 3\n")  # fmt: skip
        path = write_config(tmp_path, url, kinds=("math",), teacher=teacher)
        done = run_cli("run", "-c", str(path), "--quiet")
        assert done.returncode == 0, done.stderr
        sent = sim_stats(url)["requests"]
    ad = _estimate(dry_run(load_config(path)).teachers, "ad")
    assert 12 < sent < 36 and ad.cached == sent  # some tasks took more than one answer
    assert ad.settled == ad.tasks == 12
    assert ad.to_send == ad.min_to_send == 0 and ad.expected_to_send == 0.0


def test_dry_run_command_prints_the_range(tmp_path: Path) -> None:
    path, uncached = _setup(tmp_path)
    result = run_cli("harvest", "-c", str(path), "--dry-run", env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "│ ad " in x)
    assert f"{12 - CACHED_TASKS}–{36 - CACHED_TASKS}" in line
    assert f"{_usd([r for r in uncached if r.sample_index == 0]):.4f}–{_usd(uncached):.4f}" in line
    assert "sync, adaptive" in line
    assert "no earlier pass rate" in result.stdout


def _teacher(k: int, n: int, m: int) -> TeacherConfig:
    return TeacherConfig(
        "openai_compat", "x", accept_per_task=k, max_samples_per_task=n, max_consecutive_fails=m
    )


@pytest.mark.parametrize(
    ("k", "n", "m", "p", "answers", "fewest", "most"),
    [
        (1, 3, 0, 0.5, 1.75, 1, 3),
        (2, 3, 0, 0.5, 2 * 0.25 + 3 * 0.75, 2, 3),  # both of the first wave pass, or a third
        (2, 4, 1, 0.5, 1.5, 1, 2),  # a fail ends it: the second answer only after a pass
        (1, 5, 0, 1.0, 1.0, 1, 5),
        (1, 5, 0, 0.0, 5.0, 1, 5),
    ],
)
def test_stopping_rule_by_hand(
    k: int, n: int, m: int, p: float, answers: float, fewest: int, most: int
) -> None:
    rule = stopping(_teacher(k, n, m), p)
    assert sum(rule.reach) == pytest.approx(answers, abs=1e-12)
    assert (rule.fewest, rule.most) == (fewest, most)


@pytest.mark.parametrize(("k", "n", "m"), [(2, 5, 0), (2, 6, 2), (3, 7, 2), (3, 8, 4), (4, 9, 1)])
def test_stopping_rule_equals_every_verdict_sequence(k: int, n: int, m: int) -> None:
    """Against brute force: play the rule on each of the 2^n verdict sequences."""
    teacher = _teacher(k, n, m)
    for p in (0.0, 0.3, 0.5, 0.9):
        reach = [0.0] * n
        lengths = set()
        for verdicts in product((True, False), repeat=n):
            statuses: list[str | None] = []
            while (more := decide(statuses, teacher)[0]) > 0:
                wave = verdicts[len(statuses) : len(statuses) + more]
                statuses += ["pass" if v else "fail" for v in wave]
            odds = 1.0
            for v in verdicts:
                odds *= p if v else 1 - p
            for i in range(len(statuses)):
                reach[i] += odds
            lengths.add(len(statuses))
        rule = stopping(teacher, p)
        assert rule.reach == pytest.approx(reach, abs=1e-12)
        assert (rule.fewest, rule.most) == (min(lengths), max(lengths))


def test_harvest_summary_shows_cache_batches_and_adaptive_tasks(tmp_path: Path) -> None:
    from distill.harvest.runner import HarvestResult, HarvestStats

    stats = HarvestStats(planned=40, to_send=25, cache_hit_tokens=12_000, cache_write_tokens=3_000,
                         cache_saving_usd=0.0321, batch_submitted=20, batch_collected=15,
                         batch_open=5)  # fmt: skip
    stats.adaptive["r1"] = {"tasks": 10, "samples": 25, "accepted": 8, "saturated": 7,
                            "gave_up": 2, "exhausted": 1, "stalled": 0}  # fmt: skip
    screen = Console(record=True, width=200, file=io.StringIO())
    screen.print(harvest_table(HarvestResult(tmp_path / "samples.jsonl", stats, 25, {})))
    text = screen.export_text()
    assert "12,000 tokens read, 3,000 written: $0.0321 saved" in text
    assert "20 submitted, 15 collected, 5 still open" in text
    assert re.search(r"adaptive: r1 +│ 10 tasks, 2\.50 sent and 0\.80 accepted per task; "
                     r"7 saturated, 2 gave up, 1 exhausted", text)  # fmt: skip
    narrow = Console(record=True, width=80, file=io.StringIO())
    narrow.print(harvest_table(HarvestResult(tmp_path / "samples.jsonl", stats, 25, {})))
    folded = narrow.export_text()  # on an 80-column terminal the line folds, nothing is cut
    assert "2 gave up, 1 exhausted" in folded and "0.80 accepted per task" in folded

    plain = HarvestStats(planned=4, to_send=4)  # a fixed, synchronous harvest: none of that
    screen = Console(record=True, width=200, file=io.StringIO())
    screen.print(harvest_table(HarvestResult(tmp_path / "samples.jsonl", plain, 4, {})))
    text = screen.export_text()
    assert "prompt cache" not in text and "batches" not in text and "saturated" not in text

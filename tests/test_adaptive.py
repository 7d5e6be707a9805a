"""Adaptive sampling (accept_per_task): waves decided from verdicts in sample-index order, so a
task stops at k passes, n answers or m fails in a row; a re-run, a killed run and a run with new
tasks pay only for what an uninterrupted run would have sent."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from factories import (
    EXAMPLES,
    cache_entries,
    comparable_rows,
    kill,
    read_jsonl,
    run_cli,
    sim_stats,
    start_cli,
    teacher_toml,
    wait_for,
    write_config,
    write_jsonl,
)

from distill.config import TeacherConfig
from distill.harvest.adaptive import decide
from distill.sim import SimConfig, running_sim

K, N, M = 2, 6, 3


def _teacher(k: int = K, n: int = N, m: int = M) -> TeacherConfig:
    return TeacherConfig(
        provider="openai_compat", model="m", accept_per_task=k, max_samples_per_task=n,
        max_consecutive_fails=m,
    )  # fmt: skip


def _adaptive_toml(url: str, *, in_flight: int = 16, k: int = K, n: int = N, m: int = M) -> str:
    extra = f"accept_per_task = {k}\nmax_samples_per_task = {n}\nmax_consecutive_fails = {m}"
    return teacher_toml(url, samples_per_task=1, max_in_flight=in_flight, extra=extra)


def _replay(statuses: list[str], teacher: TeacherConfig) -> tuple[int, str]:
    """Walk the waves `decide` asks for over a task's verdicts in index order: (how many
    samples the waves took, the outcome)."""
    taken: list[str | None] = []
    while True:
        more, outcome = decide(taken, teacher)
        if not more:
            return len(taken), outcome
        taken += statuses[len(taken) : len(taken) + more]
        if len(taken) > len(statuses):
            return -1, "asked for more samples than were sent"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], (2, "")),  # the first wave: k answers
        (["pass"], (1, "")),  # one more pass needed
        (["pass", "pass"], (0, "saturated")),
        (["fail", "pass"], (1, "")),
        (["fail", "fail", "fail"], (0, "gave_up")),  # m = 3 in a row
        (["fail", "fail", "suspect"], (0, "gave_up")),  # a suspect answer is not accepted
        (["fail", "fail", "pass", "fail", "fail"], (1, "")),  # a pass breaks the run
        (["fail", "fail"], (1, "")),  # one fail from giving up: one more, not k
        (["pass", "fail", "fail", "fail"], (0, "gave_up")),
        (["fail", "pass", "fail", "fail", "pass"], (0, "saturated")),
        (["pass", "fail", "pass", "fail", "fail", "fail"], (0, "saturated")),
        (["pass", None], (0, "stalled")),  # an unanswered sample: asked again next run
        (["pass", "error"], (0, "stalled")),  # the harness failed: graded again next run
        (["ungradeable", "fail"], (0, "ungradeable")),
    ],
)
def test_decide(statuses: list[str | None], expected: tuple[int, str]) -> None:
    assert decide(statuses, _teacher()) == expected


def test_a_wave_never_goes_past_n() -> None:
    assert decide(["fail"] * 5, _teacher(k=3, n=6, m=0)) == (1, "")
    assert decide(["fail"] * 6, _teacher(k=3, n=6, m=0)) == (0, "exhausted")
    assert decide([], _teacher(k=3, n=2, m=0)) == (2, "")  # validation refuses k > n anyway


def _by_task(graded: Path) -> dict[str, list[str]]:
    statuses: dict[str, list[str]] = defaultdict(list)
    for row in sorted(read_jsonl(graded), key=lambda r: (r["task_id"], r["sample_index"])):
        statuses[row["task_id"]].append(row["verdict"]["status"])
    return statuses


def test_harvest_stops_each_task_where_its_verdicts_say_and_a_rerun_sends_nothing(
    tmp_path: Path,
) -> None:
    with running_sim(SimConfig(seed=5, p_correct=0.5)) as url:
        config = write_config(tmp_path, url, kinds=("math",), teacher=_adaptive_toml(url))
        first = run_cli("harvest", "-c", str(config), "--quiet")
        assert first.returncode == 0, first.stderr
        sent = sim_stats(url)["requests"]
        again = run_cli("harvest", "-c", str(config), "--quiet")
        assert again.returncode == 0, again.stderr
        assert sim_stats(url)["requests"] == sent  # the same decisions, all from the cache
        graded = run_cli("grade", "-c", str(config), "--quiet")
        assert graded.returncode == 0, graded.stderr

    tasks = len(read_jsonl(EXAMPLES["math"]))
    statuses = _by_task(tmp_path / "out" / "graded.jsonl")
    assert set(statuses) == {t["id"] for t in read_jsonl(EXAMPLES["math"])}
    outcomes = set()
    for task_id, verdicts in statuses.items():
        taken, outcome = _replay(verdicts, _teacher())
        assert taken == len(verdicts), (task_id, verdicts)  # nothing sent past the stop
        outcomes.add(outcome)
    assert "saturated" in outcomes and len(outcomes) > 1  # p = 0.5: both ends show up
    assert sent == sum(len(v) for v in statuses.values()) < tasks * N
    # Every verdict the grade stage needed was decided during the harvest: a pure cache read.
    summary = graded.stdout + graded.stderr
    assert "error" not in {s for v in statuses.values() for s in v}, summary


def test_hopeless_tasks_give_up_after_m_fails(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=5, p_correct=0.0)) as url:
        config = write_config(tmp_path, url, kinds=("math",), teacher=_adaptive_toml(url))
        assert run_cli("harvest", "-c", str(config), "--quiet").returncode == 0
        sent = sim_stats(url)["requests"]
    tasks = len(read_jsonl(EXAMPLES["math"]))
    assert sent == tasks * M  # not tasks * N
    rows = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert sorted({r["sample_index"] for r in rows}) == list(range(M))


def test_the_run_summary_reports_the_adaptive_figures(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=5, p_correct=0.5)) as url:
        config = write_config(tmp_path, url, kinds=("math",), teacher=_adaptive_toml(url))
        done = run_cli("run", "-c", str(config), "--quiet")
        assert done.returncode == 0, done.stderr
        sent = sim_stats(url)["requests"]
    history = read_jsonl(tmp_path / "out" / "history.jsonl")
    figures = history[-1]["stages"]["harvest"]["adaptive"]["sim"]
    tasks = len(read_jsonl(EXAMPLES["math"]))
    assert figures["tasks"] == tasks and figures["samples"] == sent
    assert sum(figures[o] for o in ("saturated", "exhausted", "gave_up")) == tasks
    grade = history[-1]["stages"]["grade"]
    assert grade["cached"] == sent  # graded while harvesting: the grade stage read them all
    passes = sum(1 for r in read_jsonl(tmp_path / "out" / "graded.jsonl")
                 if r["verdict"]["status"] == "pass")  # fmt: skip
    assert figures["accepted"] == passes


def test_added_tasks_send_only_theirs(tmp_path: Path) -> None:
    rows = read_jsonl(EXAMPLES["math"])
    with running_sim(SimConfig(seed=5, p_correct=0.5)) as url:
        tasks = write_jsonl(tmp_path / "tasks.jsonl", rows[:6])
        teacher = _adaptive_toml(url)
        config = write_config(tmp_path, url, tasks=[tasks], teacher=teacher)
        assert run_cli("harvest", "-c", str(config), "--quiet").returncode == 0
        before = sim_stats(url)["requests"]
        first = read_jsonl(tmp_path / "out" / "samples.jsonl")
        write_jsonl(tasks, rows)
        assert run_cli("harvest", "-c", str(config), "--quiet").returncode == 0
        added = sim_stats(url)["requests"] - before
        after = read_jsonl(tmp_path / "out" / "samples.jsonl")
    old = {r["id"] for r in rows[:6]}
    assert added == sum(1 for r in after if r["task_id"] not in old)
    assert [r["request_key"] for r in after if r["task_id"] in old] == [
        r["request_key"] for r in first
    ]


def test_sigkill_mid_wave_then_rerun_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    rows = [
        {"id": f"m{i}", "kind": "math", "prompt": f"What is {i} + {i}?",
         "reference": {"answer": str(2 * i)}}
        for i in range(40)
    ]  # fmt: skip
    in_flight = 4
    with running_sim(SimConfig(seed=9, p_correct=0.5, latency="uniform:0.05,0.15")) as url:
        teacher = _adaptive_toml(url, in_flight=in_flight)

        def setup(root: Path) -> Path:
            return write_config(root, url, tasks=[write_jsonl(root / "t.jsonl", rows)],
                                teacher=teacher)  # fmt: skip

        reference = setup(tmp_path / "reference")
        assert run_cli("harvest", "-c", str(reference), "--quiet").returncode == 0
        uninterrupted = sim_stats(url)["requests"]

        killed = setup(tmp_path / "killed")
        cache = tmp_path / "killed" / "cache" / "harvest"
        process = start_cli("harvest", "-c", str(killed), "--quiet")
        wait_for(lambda: cache_entries(cache) >= uninterrupted // 2, "half the answers",
                 process=process)  # fmt: skip
        kill(process)
        assert cache_entries(cache) < uninterrupted  # it died mid-harvest
        assert not (tmp_path / "killed" / "out" / "samples.jsonl").exists()
        rerun = run_cli("harvest", "-c", str(killed), "--quiet")
        assert rerun.returncode == 0, rerun.stderr
        paid = sim_stats(url)["requests"] - uninterrupted

    samples = tmp_path / "killed" / "out" / "samples.jsonl"
    assert comparable_rows(samples) == comparable_rows(tmp_path / "reference/out/samples.jsonl")
    assert uninterrupted <= paid <= uninterrupted + in_flight * K
    for config in (reference, killed):
        assert run_cli("grade", "-c", str(config), "--quiet").returncode == 0
    graded = [comparable_rows(tmp_path / run / "out" / "graded.jsonl")
              for run in ("reference", "killed")]  # fmt: skip
    assert graded[0] == graded[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("accept_per_task = 3\nmax_samples_per_task = 2", "accept_per_task = 3 is more than"),
        ("accept_per_task = 1", "needs max_samples_per_task"),
        ("max_samples_per_task = 4", "need accept_per_task"),
        ('mode = "bulk"', "mode"),
        ("price = { input = 1.0, batch_output = -0.5 }", "price.batch_output must be >= 0"),
    ],
)
def test_bad_adaptive_settings_are_one_line_errors(
    tmp_path: Path, extra: str, message: str
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1",
                          teacher=teacher_toml("http://127.0.0.1:9/v1", extra=extra))  # fmt: skip
    done = run_cli("harvest", "-c", str(config), "--quiet")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_history_is_json(tmp_path: Path) -> None:
    # The adaptive figures go into history.jsonl as plain JSON numbers (status reads them).
    with running_sim(SimConfig(seed=5, p_correct=1.0)) as url:
        config = write_config(tmp_path, url, kinds=("math",), teacher=_adaptive_toml(url))
        assert run_cli("run", "-c", str(config), "--quiet").returncode == 0
    line = (tmp_path / "out" / "history.jsonl").read_text().splitlines()[-1]
    figures = json.loads(line)["stages"]["harvest"]["adaptive"]["sim"]
    assert figures["saturated"] == figures["tasks"] and figures["samples"] == K * figures["tasks"]


def test_code_and_merge_answers_are_graded_live_in_the_sandbox(tmp_path: Path) -> None:
    # Code verdicts run the programs (sandbox, worker processes) while the harvest waits on them.
    teacher = _adaptive_toml("URL", k=1, n=4, m=2)
    with running_sim(SimConfig(seed=3, p_correct=0.5)) as url:
        config = write_config(tmp_path, url, kinds=("code", "merge"),
                              teacher=teacher.replace("URL", url))  # fmt: skip
        done = run_cli("run", "-c", str(config), "--quiet")
        assert done.returncode == 0, done.stderr
        sent = sim_stats(url)["requests"]
    summary = read_jsonl(tmp_path / "out" / "history.jsonl")[-1]["stages"]
    assert summary["grade"]["cached"] == summary["grade"]["total"] == sent
    statuses = _by_task(tmp_path / "out" / "graded.jsonl")
    graders = {r["verdict"]["grader"] for r in read_jsonl(tmp_path / "out" / "graded.jsonl")}
    assert graders == {"code", "merge"}
    for task_id, verdicts in statuses.items():
        assert _replay(verdicts, _teacher(k=1, n=4, m=2))[0] == len(verdicts), task_id


def test_a_settled_night_needs_no_key_and_a_missing_one_is_one_line(tmp_path: Path) -> None:
    rows = read_jsonl(EXAMPLES["math"])
    with running_sim(SimConfig(seed=5, p_correct=0.5, api_key="sk-sim")) as url:
        tasks = write_jsonl(tmp_path / "tasks.jsonl", rows[:6])
        extra = 'api_key_env = "SIM_API_KEY"'
        teacher = _adaptive_toml(url).replace("timeout_s", f"{extra}\ntimeout_s", 1)
        config = write_config(tmp_path, url, tasks=[tasks], teacher=teacher)
        done = run_cli("harvest", "-c", str(config), "--quiet", env={"SIM_API_KEY": "sk-sim"})
        assert done.returncode == 0, done.stderr
        sent = sim_stats(url)["requests"]
        again = run_cli("harvest", "-c", str(config), "--quiet")  # every task settled: no key
        assert again.returncode == 0, again.stderr
        write_jsonl(tasks, rows)  # new tasks need answers, and so the key
        missing = run_cli("harvest", "-c", str(config), "--quiet")
        assert sim_stats(url)["requests"] == sent
    assert missing.returncode == 2
    assert "SIM_API_KEY is not set" in missing.stderr and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert len(read_jsonl(tmp_path / "out" / "samples.jsonl")) == sent  # nothing lost

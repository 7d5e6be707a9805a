"""A harvest killed with SIGKILL mid-stage, again and again, and restarted pays for at most the
requests that were in flight, and ends with the samples file an uninterrupted run writes."""

from __future__ import annotations

import json
from pathlib import Path

from factories import (
    cache_entries,
    comparable_rows,
    kill,
    run_cli,
    sim_stats,
    start_cli,
    teacher_toml,
    wait_for,
    write_config,
    write_jsonl,
)

from distill.sim import SimConfig, running_sim

TASKS = 150
IN_FLIGHT = 8
KILLS = 3


def _setup(root: Path, url: str) -> Path:
    rows = [
        {"id": f"t{i}", "kind": "chat", "prompt": f"Describe the number {i}."} for i in range(TASKS)
    ]
    tasks = write_jsonl(root / "tasks.jsonl", rows)
    teacher = teacher_toml(url, samples_per_task=1, max_in_flight=IN_FLIGHT)
    return write_config(root, url, tasks=[tasks], teacher=teacher)


def _kill_once_cached(config: Path, cache: Path, answers: int) -> None:
    """Start a harvest and SIGKILL it as soon as `answers` answers are in its cache."""
    process = start_cli("harvest", "-c", str(config), "--quiet")
    wait_for(lambda: cache_entries(cache) >= answers, f"{answers} answers cached", process=process)
    kill(process)


def test_sigkill_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    # 150 answers of 0.1-0.3 s, 8 at a time: about 4 s of harvest to land three kills in.
    with running_sim(SimConfig(latency="uniform:0.1,0.3", seed=11)) as url:
        reference = _setup(tmp_path / "reference", url)
        assert run_cli("harvest", "-c", str(reference), "--quiet").returncode == 0
        sent_uninterrupted = sim_stats(url)["requests"]
        assert sent_uninterrupted == TASKS

        killed = _setup(tmp_path / "killed", url)
        samples = tmp_path / "killed" / "out" / "samples.jsonl"
        cache = tmp_path / "killed" / "cache" / "harvest"
        cached = 0
        for n in range(1, KILLS + 1):
            _kill_once_cached(killed, cache, n * TASKS // (KILLS + 2))  # at 30, 60, 90
            # The kill landed mid-stage: more answers than before, not all, no samples file.
            assert cached < cache_entries(cache) < TASKS
            assert not samples.exists()
            cached = cache_entries(cache)
        rerun = run_cli("harvest", "-c", str(killed), "--quiet")
        assert rerun.returncode == 0, rerun.stderr
        paid = sim_stats(url)["requests"] - sent_uninterrupted

    assert all(json.loads(line) for line in samples.read_text().splitlines())
    assert comparable_rows(samples) == comparable_rows(tmp_path / "reference/out/samples.jsonl")
    assert TASKS <= paid <= TASKS + KILLS * IN_FLIGHT

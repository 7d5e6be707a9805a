"""A harvest killed with SIGKILL at random moments and restarted pays for at most the requests
that were in flight, and ends with the samples file an uninterrupted run writes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import ROOT, sim_stats

from distill.sim import SimConfig, running_sim

TASKS = 150
IN_FLIGHT = 8


def _setup(root: Path, url: str) -> Path:
    root.mkdir()
    with (root / "tasks.jsonl").open("w") as handle:
        for i in range(TASKS):
            row = {"id": f"t{i}", "kind": "chat", "prompt": f"Describe the number {i}."}
            handle.write(json.dumps(row) + "\n")
    config = root / "distill.toml"
    config.write_text(
        f"""
name = "resume"
tasks = ["tasks.jsonl"]
output_dir = "out"
cache_dir = "cache"
[teachers.sim]
provider = "openai_compat"
model = "sim-r1"
base_url = "{url}"
[teachers.sim.limits]
max_in_flight = {IN_FLIGHT}
"""
    )
    return config


def _harvest(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "distill", "harvest", "-c", str(config), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:  # arrival time and latency differ between any two runs
        del row["created_at"], row["latency_s"]
    return rows


def test_sigkill_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    with running_sim(SimConfig(latency="uniform:0.1,0.3", seed=11)) as url:
        reference = _setup(tmp_path / "reference", url)
        assert _harvest(reference).wait(timeout=120) == 0
        sent_uninterrupted = sim_stats(url)["requests"]
        assert sent_uninterrupted == TASKS

        killed = _setup(tmp_path / "killed", url)
        samples = tmp_path / "killed" / "out" / "samples.jsonl"
        rng = random.Random(3)
        kills = 3
        for _ in range(kills):
            process = _harvest(killed)
            time.sleep(rng.uniform(0.8, 1.6))
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            if samples.exists():  # written only at the end, atomically: never a half file
                assert all(json.loads(line) for line in samples.read_text().splitlines())
        assert _harvest(killed).wait(timeout=120) == 0
        paid = sim_stats(url)["requests"] - sent_uninterrupted

    assert _rows(samples) == _rows(tmp_path / "reference" / "out" / "samples.jsonl")
    assert TASKS <= paid <= TASKS + kills * IN_FLIGHT

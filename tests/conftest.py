"""Shared fixtures: a real teacher simulator on 127.0.0.1 and configs pointing at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distill.paths import example_task_files
from distill.sim import SimConfig, running_sim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {p.stem: p for p in example_task_files()}


def sim_stats(base_url: str) -> dict[str, Any]:
    root = base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/stats", timeout=10) as response:
        stats: dict[str, Any] = json.load(response)
    return stats


@pytest.fixture
def sim() -> Iterator[str]:
    with running_sim(SimConfig(seed=7, p_correct=0.7)) as url:
        yield url


def write_config(
    directory: Path,
    base_url: str,
    *,
    kinds: tuple[str, ...] = ("math", "merge", "chat"),
    teacher: str = "",
    extra: str = "",
    tasks: list[Path] | None = None,
) -> Path:
    """A small config over the bundled example tasks, with fast retries for tests."""
    files = tasks if tasks is not None else [EXAMPLES[k] for k in kinds]
    teacher_block = (
        teacher
        or f"""
[teachers.sim]
provider = "openai_compat"
model = "sim-r1"
base_url = "{base_url}"
samples_per_task = 2
timeout_s = 10
[teachers.sim.limits]
max_in_flight = 16
"""
    )
    text = f"""
name = "t"
tasks = {json.dumps([str(f) for f in files])}
output_dir = "out"
cache_dir = "cache"
[harvest]
max_attempts = 8
backoff_initial_s = 0.01
backoff_max_s = 0.1
[export]
val_fraction = 0.25
{teacher_block}
{extra}
"""
    path = directory / "distill.toml"
    path.write_text(text)
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `distill` command in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "distill", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=240,
        check=False,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

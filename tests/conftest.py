"""Shared fixtures: a real teacher simulator on 127.0.0.1. What tests build (tasks, samples,
configs) and how they drive `distill` is in factories.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Re-exported for test files that still import these from here (test_cli_errors.py); new code
# imports them from factories.
from factories import EXAMPLES, ROOT, read_jsonl, run_cli, sim_stats, write_config

from distill.sim import SimConfig, running_sim

__all__ = ["EXAMPLES", "ROOT", "read_jsonl", "run_cli", "sim", "sim_stats", "write_config"]


@pytest.fixture
def sim() -> Iterator[str]:
    with running_sim(SimConfig(seed=7, p_correct=0.7)) as url:
        yield url

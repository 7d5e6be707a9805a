"""The HTTP stack as a config choice, and retries that wait as long as an overloaded teacher asks.

Every fault promise (deadlines, drops, bodies cut short or not JSON, stalls) holds on both
transports; the gap between a failed request and its retry is measured on the server side.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from factories import ROOT, read_jsonl, sim_stats, teacher_toml, write_config

from distill.config import load_config
from distill.errors import ConfigError
from distill.harvest import run_harvest
from distill.sim import SimConfig, running_sim

TRANSPORTS = ["httpx", "aiohttp"]
PROVIDER_MODELS = [("openai_compat", "sim-r1"), ("anthropic", "sim-claude")]
EPSILON_S = 0.05  # clock reads on either side of the socket, not scheduling: a lower bound only


def _config_text(tmp_path: Path, url: str, provider: str, model: str, transport: str) -> Path:
    teacher = teacher_toml(
        url,
        name="t",
        model=model,
        provider=provider,
        samples_per_task=1,
        timeout_s=2,
        max_in_flight=8,
        extra=f'transport = "{transport}"\n',
    )
    return write_config(tmp_path, url, kinds=("math",), teacher=teacher)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("provider", "model"), PROVIDER_MODELS)
@pytest.mark.parametrize(
    ("fault", "kind"),
    [("drop", "connection"), ("truncated", "connection"), ("malformed", "malformed")],
)
def test_each_fault_is_reported_alike_on_both_transports(
    tmp_path: Path, transport: str, provider: str, model: str, fault: str, kind: str
) -> None:
    with running_sim(SimConfig(**{f"fault_{fault}": 1.0})) as url:
        config = load_config(_config_text(tmp_path, url, provider, model, transport))
        config = replace(config, harvest=replace(config.harvest, max_attempts=1))
        rows = read_jsonl(run_harvest(config).samples_path)
    assert len(rows) == 12
    assert {(r["error"]["type"], r["error"]["kind"]) for r in rows} == {("TransientError", kind)}


def _gaps(arrivals: list[list[object]]) -> list[float]:
    """Seconds from each request's first arrival to its retry (same fingerprint)."""
    times: dict[str, list[float]] = defaultdict(list)
    for at, fingerprint in arrivals:
        times[str(fingerprint)].append(float(str(at)))
    assert all(len(t) == 2 for t in times.values()), "each request: one attempt, one retry"
    return [t[1] - t[0] for t in times.values()]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("provider", "model", "status"),
    [("openai_compat", "sim-r1", 503), ("anthropic", "sim-claude", 529)],
)
@pytest.mark.parametrize(("retry_after", "asked_s"), [("1.5", 1.5), ("date:2", 2.0)])
def test_overloaded_teacher_is_retried_no_sooner_than_retry_after(
    tmp_path: Path,
    transport: str,
    provider: str,
    model: str,
    status: int,
    retry_after: str,
    asked_s: float,
) -> None:
    sim = SimConfig(status_override=status, retry_after=retry_after, record_arrivals=True)
    with running_sim(sim) as url:
        config = load_config(_config_text(tmp_path, url, provider, model, transport))
        config = replace(config, harvest=replace(config.harvest, max_attempts=2))
        result = run_harvest(config)
        arrivals = sim_stats(url)["arrivals"]
    rows = read_jsonl(result.samples_path)
    assert {(r["error"]["type"], r["error"]["kind"]) for r in rows} == {
        ("OverloadedError", f"http_{status}")
    }
    assert result.stats.retries == 12 and result.stats.rate_limited == 0  # no 429 was seen
    gaps = _gaps(arrivals)
    assert len(gaps) == 12 and min(gaps) >= asked_s - EPSILON_S, gaps
    # Teacher-wide: no retry of any request came before the first failure + the wait asked.
    first = min(float(at) for at, _ in arrivals)
    retries = sorted(float(at) for at, _ in arrivals)[12:]
    assert retries[0] >= first + asked_s - EPSILON_S


def test_overloaded_without_retry_after_is_a_plain_transient_error(tmp_path: Path) -> None:
    with running_sim(SimConfig(status_override=503, record_arrivals=True)) as url:
        config = load_config(_config_text(tmp_path, url, "openai_compat", "sim-r1", "httpx"))
        config = replace(config, harvest=replace(config.harvest, max_attempts=2))
        result = run_harvest(config)
        assert len(_gaps(sim_stats(url)["arrivals"])) == 12
    assert {r["error"]["type"] for r in read_jsonl(result.samples_path)} == {"TransientError"}


def test_unknown_transport_is_a_config_error(tmp_path: Path) -> None:
    path = _config_text(tmp_path, "http://127.0.0.1:9/v1", "openai_compat", "sim-r1", "curl")
    with pytest.raises(ConfigError, match="transport"):
        load_config(path)


def test_aiohttp_transport_without_aiohttp_names_the_extra(tmp_path: Path) -> None:
    with running_sim(SimConfig()) as url:
        path = _config_text(tmp_path, url, "openai_compat", "sim-r1", "aiohttp")
        # sys.modules[name] = None makes aiohttp unimportable in that process, as if missing.
        code = (
            "import sys; sys.modules['aiohttp'] = None; from distill.cli import main; "
            f"sys.exit(main(['harvest', '--config', {str(path)!r}]))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert sim_stats(url)["requests"] == 0
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "distill[aiohttp]" in lines[0], done.stderr

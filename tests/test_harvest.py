"""The harvester against the simulator over real HTTP: wire formats, faults, limits, fatals."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from factories import read_jsonl, run_cli, sim_stats, teacher_toml, write_config

from distill.config import load_config
from distill.harvest import run_harvest
from distill.harvest.limits import LeakyBucket
from distill.records import iter_samples
from distill.sim import SimConfig, running_sim

TRANSPORTS = ["httpx", "aiohttp"]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """The fault tests run on each HTTP stack: each must keep every promise."""
    return str(request.param)


def _teacher(
    base_url: str,
    model: str,
    provider: str = "openai_compat",
    extra: str = "",
    transport: str = "",
    **options: Any,
) -> str:
    """Teacher `t`: one sample a task, a 5 s deadline, 8 in flight, unless `options` say else."""
    if transport:
        extra = f'transport = "{transport}"\n' + extra
    defaults: dict[str, Any] = {
        "name": "t",
        "samples_per_task": 1,
        "timeout_s": 5,
        "max_in_flight": 8,
    }
    return teacher_toml(
        base_url, model=model, provider=provider, extra=extra, **(defaults | options)
    )


@pytest.mark.parametrize("model", ["sim-r1", "sim-vllm", "sim-think", "sim-think-noopen"])
def test_reasoning_is_captured_from_every_field(tmp_path: Path, model: str) -> None:
    with running_sim(SimConfig(p_correct=1.0)) as url:
        config = load_config(write_config(tmp_path, url, teacher=_teacher(url, model)))
        result = run_harvest(config)
    rows = read_jsonl(result.samples_path)
    assert len(rows) == 28 and all(r["status"] == "ok" for r in rows)
    for row in rows:
        assert row["reasoning_kind"] == "raw" and len(row["reasoning"]) > 50
        assert "<think>" not in row["content"] and "</think>" not in row["content"]
        assert row["usage"]["completion_tokens"] > 0
    math = [r for r in rows if r["task_id"].startswith("math-")]
    assert all("\\boxed{" in r["content"] for r in math)


def test_plain_model_has_no_reasoning(tmp_path: Path) -> None:
    with running_sim(SimConfig()) as url:
        config = load_config(write_config(tmp_path, url, teacher=_teacher(url, "sim-plain")))
        rows = read_jsonl(run_harvest(config).samples_path)
    assert {r["reasoning_kind"] for r in rows} == {"none"}


@pytest.mark.parametrize(
    ("model", "kind"), [("sim-claude", "summarized"), ("sim-claude-redacted", "redacted")]
)
def test_anthropic_thinking_blocks(tmp_path: Path, model: str, kind: str) -> None:
    extra = "max_tokens = 4096\nthinking_budget = 2048\n"
    with running_sim(SimConfig(p_correct=1.0)) as url:
        teacher = _teacher(url, model, provider="anthropic", extra=extra)
        config = load_config(write_config(tmp_path, url, kinds=("math",), teacher=teacher))
        rows = read_jsonl(run_harvest(config).samples_path)
        assert sim_stats(url)["by_endpoint"] == {"/v1/messages": 12}
    assert {r["reasoning_kind"] for r in rows} == {kind}
    assert all("\\boxed{" in r["content"] for r in rows)


def test_length_limit_marks_the_sample_truncated(tmp_path: Path) -> None:
    with running_sim(SimConfig()) as url:
        teacher = _teacher(url, "sim-r1", extra="max_tokens = 20\n")
        config = load_config(write_config(tmp_path, url, kinds=("math",), teacher=teacher))
        rows = read_jsonl(run_harvest(config).samples_path)
    assert {r["finish_reason"] for r in rows} == {"length"}


def test_server_faults_are_retried_until_every_sample_is_ok(tmp_path: Path, transport: str) -> None:
    faults = SimConfig(
        fault_5xx=0.2,
        fault_malformed=0.05,
        fault_truncated=0.05,
        fault_drop=0.05,
        fault_stall=0.02,
        stall_s=3.0,
        seed=3,
    )
    with running_sim(faults) as url:
        teacher = _teacher(url, "sim-r1", samples_per_task=3, timeout_s=1.0, transport=transport)
        path = write_config(tmp_path, url, teacher=teacher)
        # About 1 attempt in 3 meets a fault: 20 attempts make a sample that never gets through
        # (0.37^20) impossible in practice, even on a loaded machine where timeouts add up.
        path.write_text(path.read_text().replace("max_attempts = 8", "max_attempts = 20"))
        config = load_config(path)
        result = run_harvest(config)
        stats = sim_stats(url)
    rows = read_jsonl(result.samples_path)
    assert len(rows) == 84 and all(r["status"] == "ok" for r in rows)
    assert result.stats.retries > 0
    assert stats["duplicate_ok_answers"] == 0
    assert stats["ok_answers"] == 84


def test_429_pauses_and_retries(tmp_path: Path, transport: str) -> None:
    with running_sim(SimConfig(rpm=600, limit_window_s=0.5)) as url:  # 10/s, bursts of 5
        config = load_config(
            write_config(
                tmp_path, url, kinds=("math",), teacher=_teacher(url, "sim-r1", transport=transport)
            )
        )
        result = run_harvest(config)
        stats = sim_stats(url)
    rows = read_jsonl(result.samples_path)
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 12
    assert stats["rate_limited"] > 0 and result.stats.rate_limited == stats["rate_limited"]


def test_client_limit_avoids_429(tmp_path: Path) -> None:
    with running_sim(SimConfig(rpm=600, limit_window_s=1.0)) as url:
        teacher = _teacher(url, "sim-r1", limits="rpm = 420\n")  # margin for thread scheduling
        config = load_config(write_config(tmp_path, url, kinds=("math",), teacher=teacher))
        run_harvest(config)
        assert sim_stats(url)["rate_limited"] == 0


def test_rejected_requests_are_recorded_not_retried(tmp_path: Path) -> None:
    with running_sim(SimConfig(status_override=400)) as url:
        config = load_config(
            write_config(tmp_path, url, kinds=("math",), teacher=_teacher(url, "sim-r1"))
        )
        result = run_harvest(config)
        assert sim_stats(url)["requests"] == 12
    rows = read_jsonl(result.samples_path)
    assert len(rows) == 12
    assert {r["status"] for r in rows} == {"error"}
    assert rows[0]["error"]["type"] == "RequestRejectedError"


def test_error_samples_exit_partial_and_are_retried_next_run(tmp_path: Path) -> None:
    with running_sim(SimConfig(status_override=500)) as url:
        path = write_config(tmp_path, url, kinds=("math",), teacher=_teacher(url, "sim-r1"))
        path.write_text(path.read_text().replace("max_attempts = 8", "max_attempts = 2"))
        result = run_cli("harvest", "-c", str(path), "--quiet")
        assert result.returncode == 1, result.stderr
        assert sim_stats(url)["requests"] == 24  # 12 requests × 2 attempts
    with running_sim(SimConfig(port=int(url.rsplit(":", 1)[1].split("/")[0]))) as url2:
        assert url2 == url
        assert run_cli("harvest", "-c", str(path), "--quiet").returncode == 0
        assert sim_stats(url2)["requests"] == 12
    assert {r["status"] for r in read_jsonl(tmp_path / "out" / "samples.jsonl")} == {"ok"}


@pytest.mark.parametrize(("status", "words"), [(401, "API key was rejected"), (402, "no balance")])
def test_fatal_statuses_stop_the_teacher_with_exit_3(
    tmp_path: Path, status: int, words: str
) -> None:
    with running_sim(SimConfig(status_override=status)) as url:
        teacher = _teacher(url, "sim-r1", extra='api_key_env = "DISTILL_TEST_KEY"\n')
        config = write_config(tmp_path, url, teacher=teacher)
        result = run_cli(
            "harvest", "-c", str(config), "--quiet", env={"DISTILL_TEST_KEY": "sk-test-secret-123"}
        )
        sent = sim_stats(url)["requests"]
    assert result.returncode == 3, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert "sk-test-secret-123" not in result.stderr
    assert sent <= 8 + 1  # the in-flight cap, not all 56 requests


def test_api_key_is_sent_but_never_written(tmp_path: Path) -> None:
    secret = "sk-distill-test-SECRET-value-42"
    with running_sim(SimConfig(api_key=secret)) as url:
        teacher = _teacher(url, "sim-r1", extra='api_key_env = "DISTILL_TEST_KEY"\n')
        config = write_config(tmp_path, url, teacher=teacher)
        result = run_cli("run", "-c", str(config), "--debug", env={"DISTILL_TEST_KEY": secret})
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    for root, _, files in os.walk(tmp_path):
        for name in files:
            assert secret.encode() not in (Path(root) / name).read_bytes(), name


def test_dry_run_sends_nothing_and_estimates_cost(tmp_path: Path, sim: str) -> None:
    teacher = _teacher(sim, "deepseek-reasoner", samples_per_task=2)
    config = write_config(tmp_path, sim, kinds=("math",), teacher=teacher)
    result = run_cli("harvest", "-c", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert sim_stats(sim)["requests"] == 0
    assert "nothing sent" in result.stdout and "24" in result.stdout  # 12 tasks × 2 samples
    assert '"max_tokens": 4096' in result.stdout  # the first request is shown
    assert "temperature" not in result.stdout  # deepseek-reasoner ignores it: not sent
    assert not (tmp_path / "out" / "samples.jsonl").exists()


def test_max_cost_stops_sending_new_requests(tmp_path: Path) -> None:
    price = "[teachers.t.price]\ninput = 1000.0\noutput = 1000.0\n"
    with running_sim(SimConfig()) as url:
        teacher = _teacher(url, "sim-r1", max_in_flight=1) + price
        config = write_config(tmp_path, url, kinds=("math",), teacher=teacher)
        result = run_cli("harvest", "-c", str(config), "--max-cost", "0.5", "--quiet")
        sent = sim_stats(url)["requests"]
    assert result.returncode == 0, result.stderr
    # Each answer costs about $0.3 at these prices: the cap is reached after two, one at a time.
    assert 1 <= sent <= 3
    assert len(read_jsonl(tmp_path / "out" / "samples.jsonl")) == sent


def test_several_teachers_answer_the_same_tasks(tmp_path: Path) -> None:
    with running_sim(SimConfig(p_correct=1.0)) as url:
        teachers = _teacher(url, "sim-r1", name="r1") + _teacher(
            url,
            "sim-claude",
            provider="anthropic",
            extra="thinking_budget = 1024\nmax_tokens = 4096\n",
            name="claude",
        )
        config = load_config(write_config(tmp_path, url, kinds=("math",), teacher=teachers))
        rows = read_jsonl(run_harvest(config).samples_path)
        endpoints = sim_stats(url)["by_endpoint"]
    assert endpoints == {"/v1/chat/completions": 12, "/v1/messages": 12}
    assert [r["teacher"] for r in rows[:2]] == ["r1", "claude"]  # task order, then teacher
    assert {r["reasoning_kind"] for r in rows if r["teacher"] == "claude"} == {"summarized"}


def test_keepalive_bytes_do_not_extend_the_deadline(tmp_path: Path, transport: str) -> None:
    # DeepSeek keeps slow requests open with blank lines; the deadline must still hold.
    with running_sim(SimConfig(latency="3", keepalive_interval_s=0.1)) as url:
        teacher = _teacher(url, "sim-r1", timeout_s=0.5, transport=transport)
        config = load_config(write_config(tmp_path, url, kinds=("math",), teacher=teacher))
        config = replace(config, harvest=replace(config.harvest, max_attempts=1))
        started = time.monotonic()
        result = run_harvest(config)
        elapsed = time.monotonic() - started
    rows = read_jsonl(result.samples_path)
    assert {r["status"] for r in rows} == {"error"}
    assert {r["error"]["kind"] for r in rows} == {"deadline"}
    assert elapsed < 2.5  # well before the 3 s answers; a generous bound, not a timing test


def test_keepalive_lines_before_the_answer_are_accepted(tmp_path: Path, transport: str) -> None:
    with running_sim(SimConfig(latency="0.3", keepalive_interval_s=0.05)) as url:
        config = load_config(
            write_config(
                tmp_path, url, kinds=("math",), teacher=_teacher(url, "sim-r1", transport=transport)
            )
        )
        rows = read_jsonl(run_harvest(config).samples_path)
    assert {r["status"] for r in rows} == {"ok"}


# --- one provider base, one error boundary, Sample records, the limiter's own bucket ----------

PROVIDER_MODELS = [("openai_compat", "sim-r1"), ("anthropic", "sim-claude")]


def _one_attempt(
    tmp_path: Path, url: str, provider: str, model: str, transport: str = ""
) -> list[dict[str, Any]]:
    teacher = _teacher(url, model, provider=provider, transport=transport)
    config = load_config(write_config(tmp_path, url, kinds=("math",), teacher=teacher))
    config = replace(config, harvest=replace(config.harvest, max_attempts=1))
    return read_jsonl(run_harvest(config).samples_path)


@pytest.mark.parametrize(("provider", "model"), PROVIDER_MODELS)
@pytest.mark.parametrize(
    ("status", "error_type"), [(400, "RequestRejectedError"), (503, "TransientError")]
)
def test_both_providers_map_http_errors_alike(
    tmp_path: Path, provider: str, model: str, status: int, error_type: str, transport: str
) -> None:
    with running_sim(SimConfig(status_override=status)) as url:
        rows = _one_attempt(tmp_path, url, provider, model, transport)
    assert len(rows) == 12
    assert {(r["error"]["type"], r["error"]["kind"]) for r in rows} == {
        (error_type, f"http_{status}")
    }


@pytest.mark.parametrize(("provider", "model"), PROVIDER_MODELS)
def test_both_providers_report_a_refused_connection_alike(
    tmp_path: Path, provider: str, model: str, transport: str
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rows = _one_attempt(tmp_path, f"http://127.0.0.1:{port}/v1", provider, model, transport)
    assert len(rows) == 12
    assert {(r["error"]["type"], r["error"]["kind"]) for r in rows} == {
        ("TransientError", "connection")
    }
    assert all("connection failed" in r["error"]["message"] for r in rows)


def test_samples_file_rows_are_sample_records(tmp_path: Path) -> None:
    # Ok rows and error rows alike are exactly what records.Sample writes, field for field.
    with running_sim(SimConfig(fault_5xx=0.5, seed=5)) as url:
        rows = _one_attempt(tmp_path, url, "openai_compat", "sim-r1")
    path = tmp_path / "out" / "samples.jsonl"
    assert {r["status"] for r in rows} == {"ok", "error"}
    assert rows == [s.to_dict() for s in iter_samples(path)]


def test_bucket_lets_a_burst_through_then_holds_the_rate() -> None:
    bucket = LeakyBucket(capacity=5, per_second=10)

    async def go() -> tuple[float, float]:
        start = time.monotonic()
        for _ in range(5):
            await bucket.acquire(1)
        burst = time.monotonic() - start
        for _ in range(10):
            await bucket.acquire(1)
        return burst, time.monotonic() - start

    burst, total = asyncio.run(go())
    assert burst < 0.1  # the first five fit at once
    assert total >= 0.9  # the next ten drain at 10/s


def test_bucket_refund_gives_back_unused_tokens() -> None:
    bucket = LeakyBucket(capacity=100, per_second=1)

    async def go() -> None:
        await bucket.acquire(100)
        bucket.refund(100)
        await asyncio.wait_for(bucket.acquire(100), 5)  # without the refund: 100 s
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bucket.acquire(50), 0.2)
        bucket.refund(60)  # the cancelled waiter above holds no turn and no charge
        await asyncio.wait_for(bucket.acquire(50), 5)

    asyncio.run(go())


def test_bucket_serves_waiters_in_arrival_order() -> None:
    bucket = LeakyBucket(capacity=10, per_second=100)
    order: list[str] = []

    async def take(name: str, amount: float) -> None:
        await bucket.acquire(amount)
        order.append(name)

    async def go() -> None:
        await bucket.acquire(10)  # full: both wait, the big charge first
        await asyncio.gather(take("big", 10), take("small", 1))

    asyncio.run(go())
    assert order == ["big", "small"]

"""Batch teachers through the real `distill` command: a night submits, a later night collects
(and, adaptive, submits the next waves); --wait does it all in one run; a run killed while it
waits is collected by the next without paying twice; a finished night sends nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from factories import (
    comparable_rows,
    kill,
    read_jsonl,
    run_cli,
    sim_stats,
    start_cli,
    teacher_toml,
    wait_for,
    write_config,
)

from distill.config import load_config
from distill.harvest.dryrun import dry_run
from distill.sim import SimConfig, running_sim

PROVIDERS = {
    "openai_compat": ("sim-r1", lambda url: url),
    "anthropic": ("sim-claude", lambda url: url.removesuffix("/v1")),
}
ADAPTIVE = "accept_per_task = 2\nmax_samples_per_task = 5\nmax_consecutive_fails = 3"


def _config(root: Path, url: str, provider: str, extra: str, wait: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    model, base = PROVIDERS[provider]
    teacher = teacher_toml(base(url), provider=provider, model=model, samples_per_task=3,
                           extra=f'mode = "batch"\n{extra}')  # fmt: skip
    harvest = "batch_poll_s = 0.05\nwait = true" if wait else "batch_poll_s = 0.05"
    path = write_config(root, url, kinds=("math",), teacher=teacher)
    path.write_text(path.read_text().replace("[harvest]", f"[harvest]\n{harvest}", 1))
    return path


def _harvest(config: Path, *args: str) -> None:
    done = run_cli("harvest", "-c", str(config), "--quiet", *args)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_fixed_batch_night_submits_and_the_next_collects(tmp_path: Path, provider: str) -> None:
    with running_sim(SimConfig(seed=3, batch_delay_s=0.5)) as url:
        config = _config(tmp_path, url, provider, "")
        _harvest(config)  # submits; the batch has not ended yet
        samples = tmp_path / "out" / "samples.jsonl"
        assert read_jsonl(samples) == []
        assert sim_stats(url)["batches_created"] == 1
        status = run_cli("status", "-c", str(config), env={"COLUMNS": "200"})
        assert status.returncode == 0, status.stderr
        assert re.search(
            r"batches not yet collected.*\n(.*\n)*.*│ sim +│ +1 │ +36 │", status.stdout
        )
        dry = run_cli("harvest", "-c", str(config), "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "sim: 36 requests are in batches not yet collected" in dry.stdout
        (estimate,) = dry_run(load_config(config)).teachers
        assert (estimate.in_batches, estimate.to_send) == (36, 0)
        wait_for(lambda: _harvest(config) is None and read_jsonl(samples), "the batch to end")
        status = run_cli("status", "-c", str(config), env={"COLUMNS": "200"})
        assert "batches not yet collected" not in status.stdout
        stats = sim_stats(url)
        rows = read_jsonl(samples)
        assert len(rows) == 12 * 3 and all(r["status"] == "ok" for r in rows)
        assert stats["batches_created"] == 1 and stats["duplicate_ok_answers"] == 0
        assert stats["by_endpoint"].get("/v1/chat/completions", 0) == 0  # nothing synchronous
        _harvest(config)  # the second night: everything is cached
        assert sim_stats(url)["batches_created"] == 1
        assert sim_stats(url)["batch_items"] == stats["batch_items"]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_adaptive_batch_with_wait_matches_adaptive_sync(tmp_path: Path, provider: str) -> None:
    with running_sim(SimConfig(seed=3, p_correct=0.5)) as url:
        model, base = PROVIDERS[provider]
        (tmp_path / "sync").mkdir()
        sync = write_config(tmp_path / "sync", url, kinds=("math",), teacher=teacher_toml(
            base(url), provider=provider, model=model, samples_per_task=1, extra=ADAPTIVE))  # fmt: skip
        _harvest(sync)
        sent_sync = sim_stats(url)["ok_answers"]
        batch = _config(tmp_path / "batch", url, provider, ADAPTIVE, wait=True)
        _harvest(batch)
        stats = sim_stats(url)
        assert stats["batches_created"] > 1  # one per wave round
        _harvest(batch)  # the second night sends nothing new
        assert sim_stats(url)["batches_created"] == stats["batches_created"]
    # The same answers (a batch item is the same request), the same waves, the same samples.
    assert stats["batch_items"] == sent_sync
    sync_rows = comparable_rows(tmp_path / "sync" / "out" / "samples.jsonl")
    batch_rows = comparable_rows(tmp_path / "batch" / "out" / "samples.jsonl")
    assert [r["request_key"] for r in batch_rows] == [r["request_key"] for r in sync_rows]
    for a, b in zip(batch_rows, sync_rows, strict=True):
        assert a["content"] == b["content"]
        assert a["cost_usd"] == pytest.approx(b["cost_usd"] / 2, rel=1e-6, abs=1e-9)


def test_a_run_killed_while_waiting_is_collected_by_the_next(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=3, batch_delay_s=2.0)) as url:  # the kill lands first
        config = _config(tmp_path, url, "anthropic", "", wait=True)
        process = start_cli("harvest", "-c", str(config), "--quiet")
        state = tmp_path / "out" / "batches" / "sim.json"
        wait_for(lambda: sim_stats(url)["batches_created"] == 1 and state.exists(),
                 "the batch to be submitted", process=process)  # fmt: skip
        kill(process)
        assert not (tmp_path / "out" / "samples.jsonl").exists()
        _harvest(config)
        stats = sim_stats(url)
    assert stats["batches_created"] == 1 and stats["batch_items"] == 12 * 3
    rows = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert len(rows) == 36 and all(r["status"] == "ok" for r in rows)


def test_expired_items_are_resubmitted_and_partial_answers_kept(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=3, batch_expire_rate=0.3)) as url:
        config = _config(tmp_path, url, "openai_compat", "", wait=True)
        done = run_cli("harvest", "-c", str(config), "--quiet")
        stats = sim_stats(url)
    # Each expired item went out again in a later batch; whatever answered was kept.
    assert stats["batch_items_expired"] > 0 and stats["batches_created"] > 1
    assert stats["duplicate_ok_answers"] == 0
    rows = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert len(rows) == 36
    ok = sum(r["status"] == "ok" for r in rows)
    assert ok == stats["batch_items"]
    assert done.returncode == (0 if ok == 36 else 1), done.stderr


def test_a_server_without_a_batch_api_is_one_line(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=3)) as url:
        config = _config(tmp_path, url.removesuffix("/v1") + "/nothing/v1", "openai_compat", "")
        done = run_cli("harvest", "-c", str(config), "--quiet")
    assert done.returncode == 3, done.stderr
    assert "has no Batch API" in done.stderr and 'teachers.sim.mode = "sync"' in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_deepseek_in_batch_mode_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://api.deepseek.com", teacher=teacher_toml(
        "https://api.deepseek.com", model="deepseek-reasoner", extra='mode = "batch"'))  # fmt: skip
    done = run_cli("harvest", "-c", str(config), "--quiet")
    assert done.returncode == 2 and "has no Batch API" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

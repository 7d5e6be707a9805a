"""Sharded harvest against the simulator: `--shard I/N` runs, `merge-shards` joins them into the
samples.jsonl an unsharded run writes, and no answer on disk is paid for twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from factories import (
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

from distill.config import Config, load_config
from distill.config.schema import Shard
from distill.errors import InputError, LockedError
from distill.harvest import run_harvest
from distill.harvest.dryrun import dry_run
from distill.harvest.merge import merge_shards
from distill.harvest.shards import read_manifest, shard_of, tasks_in
from distill.sim import SimConfig, running_sim
from distill.tasks import load_tasks

KINDS = ("math", "merge", "chat")
ROWS = 56  # their 28 example tasks, 2 samples each


def _sharded(config: Config, shard: str) -> Config:
    return replace(config, harvest=replace(config.harvest, shard=shard))


def _shard_file(root: Path, label: str) -> Path:
    return root / "out" / "shards" / label / "samples.jsonl"


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2 with one `distill: error:` line holding each of `needles`."""
    stderr = result.stderr
    assert result.returncode == 2, stderr
    assert stderr.startswith("distill: error: ") and stderr.count("\n") == 1, stderr
    for needle in needles:
        assert needle in stderr, stderr


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with running_sim(SimConfig(seed=7, p_correct=0.7)) as url:
        yield url


@pytest.fixture(scope="module")
def three_shards(tmp_path_factory: pytest.TempPathFactory, sim_url: str) -> Path:
    """A folder whose config has been harvested as shards 0/3, 1/3 and 2/3 (not merged)."""
    root = tmp_path_factory.mktemp("sharded")
    config = load_config(write_config(root, sim_url, kinds=KINDS))
    for i in range(3):
        run_harvest(_sharded(config, f"{i}/3"))
    return root


@pytest.fixture
def sharded(three_shards: Path, tmp_path: Path) -> Path:
    """A copy of three_shards to change."""
    root = tmp_path / "copy"
    shutil.copytree(three_shards, root)
    return root


def test_three_shards_merged_are_the_unsharded_samples(tmp_path: Path, sim_url: str) -> None:
    unsharded = tmp_path / "unsharded"
    unsharded.mkdir()
    sent = sim_stats(sim_url)["requests"]  # the module's simulator: count from here
    reference = run_harvest(load_config(write_config(unsharded, sim_url, kinds=KINDS)))
    paid_unsharded = sim_stats(sim_url)["requests"] - sent
    assert paid_unsharded == ROWS

    root = tmp_path / "sharded"
    root.mkdir()
    config_path = write_config(root, sim_url, kinds=KINDS)
    for i in range(3):
        shard = run_cli("harvest", "-c", str(config_path), "--shard", f"{i}/3", "--quiet")
        assert shard.returncode == 0, shard.stderr
    assert sim_stats(sim_url)["requests"] - sent == 2 * paid_unsharded  # each paid for once
    shard_rows = [read_jsonl(_shard_file(root, f"{i}-of-3")) for i in range(3)]
    assert all(shard_rows), "every shard has tasks"
    for i, rows in enumerate(shard_rows):
        assert {shard_of(r["task_id"], 3) for r in rows} == {i}
    assert not (root / "out" / "samples.jsonl").exists()

    merged = run_cli("merge-shards", "-c", str(config_path))
    assert merged.returncode == 0, merged.stderr
    assert f"merged 3 shards: {ROWS} samples" in merged.stdout
    samples = root / "out" / "samples.jsonl"
    # Same tasks, order, samples and fields as the unsharded run; only arrival times differ.
    assert comparable_rows(samples) == comparable_rows(reference.samples_path)
    assert cache_entries(root / "cache" / "harvest") == ROWS

    # The shard caches gone, an unsharded harvest finds every answer in the main cache and
    # writes the merged file again, byte for byte.
    merged_bytes = samples.read_bytes()
    shutil.rmtree(root / "cache" / "shards")
    before = sim_stats(sim_url)["requests"]
    again = run_cli("harvest", "-c", str(config_path), "--quiet")
    assert again.returncode == 0, again.stderr
    assert sim_stats(sim_url)["requests"] == before
    assert samples.read_bytes() == merged_bytes


def test_a_shard_rerun_and_its_dry_run_send_nothing(tmp_path: Path, sim_url: str) -> None:
    config = _sharded(load_config(write_config(tmp_path, sim_url, kinds=KINDS)), "1/3")
    before = dry_run(config)
    planned = sum(t.planned for t in before.teachers)
    assert 0 < planned < ROWS and sum(t.to_send for t in before.teachers) == planned

    sent = sim_stats(sim_url)["requests"]
    first = run_harvest(config)
    assert sim_stats(sim_url)["requests"] - sent == planned == first.stats.to_send
    assert first.samples_path == _shard_file(tmp_path, "1-of-3")
    first_bytes = first.samples_path.read_bytes()

    after = dry_run(config)
    assert sum(t.to_send for t in after.teachers) == 0
    assert sum(t.cached for t in after.teachers) == planned
    again = run_harvest(config)
    assert sim_stats(sim_url)["requests"] - sent == planned  # nothing more
    assert again.stats.to_send == 0 and again.samples_path.read_bytes() == first_bytes


def test_answers_on_disk_are_never_paid_twice_either_way(tmp_path: Path, sim_url: str) -> None:
    # Unsharded after shards (no merge): it reads the shard caches.
    first = tmp_path / "shards-first"
    first.mkdir()
    config = load_config(write_config(first, sim_url, kinds=KINDS))
    for i in range(2):
        run_harvest(_sharded(config, f"{i}/2"))
    sent = sim_stats(sim_url)["requests"]
    result = run_harvest(config)
    assert result.stats.to_send == 0 and sim_stats(sim_url)["requests"] == sent
    assert len(read_jsonl(result.samples_path)) == ROWS
    assert cache_entries(first / "cache" / "harvest") == ROWS  # copied from the shard caches
    assert cache_entries(first / "cache" / "shards" / "0-of-2" / "harvest") < ROWS

    # Shards after an unsharded run, here with another N: they read the main cache.
    for i in range(4):
        assert run_harvest(_sharded(config, f"{i}/4")).stats.to_send == 0
    assert sim_stats(sim_url)["requests"] == sent


def test_a_killed_shard_resumes_paying_only_for_what_was_in_flight(tmp_path: Path) -> None:
    tasks = write_jsonl(
        tmp_path / "tasks.jsonl",
        [{"id": f"t{i}", "kind": "chat", "prompt": f"Describe {i}."} for i in range(80)],
    )
    with running_sim(SimConfig(latency="uniform:0.05,0.1", seed=3)) as url:
        teacher = teacher_toml(url, samples_per_task=1, max_in_flight=4)
        config_path = write_config(tmp_path, url, tasks=[tasks], teacher=teacher)
        planned = len(tasks_in(load_tasks(load_config(config_path)), Shard(0, 2)))
        cache = tmp_path / "cache" / "shards" / "0-of-2" / "harvest"
        process = start_cli("harvest", "-c", str(config_path), "--shard", "0/2", "--quiet")
        wait_for(lambda: cache_entries(cache) >= 8, "8 answers cached", process=process)
        kill(process)
        assert cache_entries(cache) < planned  # killed mid-shard
        folder = tmp_path / "out" / "shards" / "0-of-2"
        assert not (folder / "shard.json").exists() and not (folder / "samples.jsonl").exists()
        resumed = run_cli("harvest", "-c", str(config_path), "--shard", "0/2", "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        paid = sim_stats(url)["requests"]
    assert planned <= paid <= planned + 4  # at most the 4 in flight at the kill, paid twice
    assert len(read_jsonl(folder / "samples.jsonl")) == planned
    assert read_manifest(folder) is not None


@pytest.mark.parametrize(
    ("shard", "problem"),
    [
        ("3/2", "I must be below N"),
        ("x", "expected I/N"),
        ("0/0", "N (the number of shards) must be at least 1"),
        ("-1/2", "expected I/N"),
    ],
)
def test_a_bad_shard_is_one_line(tmp_path: Path, shard: str, problem: str) -> None:
    config_path = write_config(tmp_path, "http://127.0.0.1:9/v1", kinds=("chat",))
    result = run_cli("harvest", "-c", str(config_path), f"--shard={shard}")
    _one_line_error(result, f"harvest.shard (--shard) = {shard!r}", problem)
    assert not (tmp_path / "out" / "shards").exists()


def test_run_refuses_a_shard_and_runs_after_a_merge(sharded: Path, sim_url: str) -> None:
    config_path = sharded / "distill.toml"
    refused = run_cli("run", "-c", str(config_path), "--shard", "0/3", "--quiet")
    _one_line_error(refused, "`distill run` harvests every task", "merge-shards")
    text = config_path.read_text()
    config_path.write_text(text.replace("[harvest]\n", '[harvest]\nshard = "0/3"\n', 1))
    _one_line_error(run_cli("run", "-c", str(config_path), "--quiet"), "harvest.shard = '0/3'")

    config_path.write_text(text)
    assert run_cli("merge-shards", "-c", str(config_path), "--quiet").returncode == 0
    sent = sim_stats(sim_url)["requests"]
    run = run_cli("run", "-c", str(config_path), "--quiet")
    assert run.returncode == 0, run.stderr
    assert sim_stats(sim_url)["requests"] == sent
    graded = read_jsonl(sharded / "out" / "graded.jsonl")
    assert len(graded) == ROWS and all(r["verdict"] for r in graded)


def test_merge_refuses_a_missing_shard_file(sharded: Path) -> None:
    (sharded / "out" / "shards" / "2-of-3" / "samples.jsonl").unlink()
    result = run_cli("merge-shards", "-c", str(sharded / "distill.toml"))
    _one_line_error(result, "missing shard files: ", "2-of-3/samples.jsonl", "--shard 2/3`")
    assert not (sharded / "out" / "samples.jsonl").exists()


def test_merge_refuses_an_unfinished_shard(sharded: Path) -> None:
    (sharded / "out" / "shards" / "0-of-3" / "shard.json").unlink()
    with pytest.raises(InputError, match=r"missing shard files: .*0-of-3/shard\.json"):
        merge_shards(load_config(sharded / "distill.toml"))


def test_merge_refuses_shards_of_another_n(sharded: Path, sim_url: str) -> None:
    config = load_config(sharded / "distill.toml")
    run_harvest(_sharded(config, "1/2"))  # a stale shard of another N beside the three
    with pytest.raises(InputError, match=r"different N \(0-of-3, 1-of-2, 1-of-3, 2-of-3\)"):
        merge_shards(config)
    assert merge_shards(config, 3).written == ROWS  # --shards 3 says which

    # A folder named for one shard that holds another's outputs.
    shards = sharded / "out" / "shards"
    shutil.rmtree(shards / "1-of-3")
    shutil.move(shards / "1-of-2", shards / "1-of-3")
    with pytest.raises(InputError, match=r"holds shard '1/2', run with another N than 1/3"):
        merge_shards(config)


def test_merge_refuses_tasks_outside_their_shard(sharded: Path) -> None:
    zero, one = _shard_file(sharded, "0-of-3"), _shard_file(sharded, "1-of-3")
    lines = zero.read_text().splitlines(keepends=True)
    zero.write_text("".join(lines[1:]))
    one.write_text(one.read_text() + lines[0])
    with pytest.raises(InputError, match=r"belongs to shard 0/3: the file holds tasks outside"):
        merge_shards(load_config(sharded / "distill.toml"))


def test_merge_refuses_overlapping_shards(sharded: Path) -> None:
    zero, one = _shard_file(sharded, "0-of-3"), _shard_file(sharded, "1-of-3")
    one.write_text(one.read_text() + zero.read_text().splitlines(keepends=True)[0])
    result = run_cli("merge-shards", "-c", str(sharded / "distill.toml"))
    _one_line_error(result, "is in shards 0-of-3 and 1-of-3: two shards overlap", "--shard 1/3")


def test_merge_refuses_shards_of_another_plan(sharded: Path) -> None:
    config = load_config(sharded / "distill.toml", ["teachers.sim.samples_per_task=3"])
    with pytest.raises(InputError, match=r"shard 0/3 was harvested for another plan"):
        merge_shards(config)
    changed = load_config(sharded / "distill.toml", ["teachers.sim.model=sim-vllm"])
    with pytest.raises(InputError, match=r"shard 0/3 was harvested for another plan"):
        merge_shards(changed)
    assert not (sharded / "out" / "samples.jsonl").exists()


def test_merge_refuses_while_a_shard_is_running(sharded: Path) -> None:
    # Another process holds shard 2/3's lock, as its harvest would (POSIX locks are per process).
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(sharded / "out" / "shards" / "2-of-3")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(LockedError, match=r"2-of-3: another distill run is writing here"):
            merge_shards(load_config(sharded / "distill.toml"))
    finally:
        holder.communicate("")  # closing its stdin lets it go
    assert not (sharded / "out" / "samples.jsonl").exists()


_HOLD_LOCK = """
import sys
from pathlib import Path
from distill.runlock import output_lock
with output_lock(Path(sys.argv[1]), "a-running-shard"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_merge_with_no_shards_says_how(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/v1", kinds=("chat",)))
    with pytest.raises(InputError, match=r"no shard outputs here: run `distill harvest -c "):
        merge_shards(config)

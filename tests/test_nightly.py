"""`distill run` as cron runs it: lock, log, summary and history, kills, second nights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from distill.sim import SimConfig, running_sim
from tests.conftest import EXAMPLES, ROOT, read_jsonl, run_cli, sim_stats, write_config


def start_run(config: Path, *flags: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.Popen(
        [sys.executable, "-m", "distill", "run", "-c", str(config), "--quiet", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def outputs(out: Path) -> dict[str, object]:
    """The splits byte for byte; graded rows without what differs between any two runs."""
    graded = read_jsonl(out / "graded.jsonl")
    for row in graded:  # arrival time, latency and grading time differ run to run
        del row["created_at"], row["latency_s"]
        row["verdict"]["details"].pop("time_s", None)
    splits = {name: (out / name).read_bytes() for name in ("train.jsonl", "val.jsonl")}
    return {"graded": graded, **splits}


def test_quiet_success_prints_nothing_and_leaves_log_summary_and_history(
    tmp_path: Path, sim: str
) -> None:
    config = write_config(tmp_path, sim)
    result = run_cli("run", "-c", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    out = tmp_path / "out"
    history = read_jsonl(out / "history.jsonl")
    assert len(history) == 1
    summary = history[0]
    run_dir = out / "runs" / summary["run_id"]
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    assert summary["outcome"] == "ok" and summary["exit_code"] == 0
    assert set(summary["stages"]) == {"harvest", "grade", "export"}
    assert summary["stages"]["harvest"]["sent"] == summary["stages"]["harvest"]["planned"] > 0
    assert 0 < summary["pass_rates"]["teacher"]["sim"] < 1
    assert set(summary["pass_rates"]["kind"]) == {"math", "merge", "chat"}
    log = (run_dir / "run.log").read_text()
    assert "harvest: started" in log and "export: done" in log and "(exit 0)" in log
    assert not (out / ".distill.lock").read_text()  # a clean exit leaves no holder

    again = run_cli("run", "-c", str(config), "--quiet")
    assert again.returncode == 0 and again.stdout == ""
    second = read_jsonl(out / "history.jsonl")[1]
    assert second["stages"]["harvest"]["sent"] == 0
    assert second["stages"]["grade"]["cached"] == second["stages"]["grade"]["total"]


def test_two_runs_on_one_directory_one_runs_one_exits_locked(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=3, latency="uniform:0.2,0.4")) as url:
        config = write_config(tmp_path, url)
        lock = tmp_path / "out" / ".distill.lock"
        first = start_run(config)
        wait_for(lambda: lock.exists() and lock.read_text().strip())
        second = run_cli("run", "-c", str(config), "--quiet")
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    assert second.returncode == 4
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "another distill run is writing here (run " in lines[0]
    history = read_jsonl(tmp_path / "out" / "history.jsonl")
    assert [h["outcome"] for h in history] == ["ok"]  # the locked run wrote nothing there
    assert read_jsonl(tmp_path / "out" / "train.jsonl")


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path, sim: str) -> None:
    config = write_config(tmp_path, sim)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".distill.lock").write_text(
        json.dumps({"run_id": "old", "pid": 999999, "host": "h", "since": "2026-01-01T00:00:00Z"})
    )
    result = run_cli("run", "-c", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    run_id = read_jsonl(out / "history.jsonl")[0]["run_id"]
    assert "taking over the lock left by run old" in (out / "runs" / run_id / "run.log").read_text()


def test_killed_mid_harvest_and_mid_grade_then_rerun_gives_identical_outputs(
    tmp_path: Path,
) -> None:
    with running_sim(SimConfig(seed=5, latency="uniform:0.05,0.15")) as url:
        kinds = ("math", "code", "merge")
        for d in ("reference", "killed"):
            (tmp_path / d).mkdir()
        reference = write_config(tmp_path / "reference", url, kinds=kinds)
        assert run_cli("run", "-c", str(reference), "--quiet").returncode == 0

        config = write_config(tmp_path / "killed", url, kinds=kinds)
        out = tmp_path / "killed" / "out"
        for stage in ("harvest", "grade"):
            process = start_run(config)
            wait_for(
                lambda stage=stage: any(
                    f"{stage}: started" in p.read_text() for p in out.glob("runs/*/run.log")
                )
            )
            time.sleep(0.3 if stage == "harvest" else 0.1)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        result = run_cli("run", "-c", str(config), "--quiet")
        assert result.returncode == 0, result.stderr
    assert outputs(out) == outputs(tmp_path / "reference" / "out")


def test_a_second_night_with_ten_percent_new_tasks_sends_only_their_requests(
    tmp_path: Path,
) -> None:
    tasks = read_jsonl(EXAMPLES["math"]) + read_jsonl(EXAMPLES["chat"])  # 22 tasks
    first_night = tmp_path / "tasks.jsonl"
    first_night.write_text("".join(json.dumps(t) + "\n" for t in tasks[:20]))
    with running_sim(SimConfig(seed=9)) as url:
        config = write_config(tmp_path, url, tasks=[first_night])
        assert run_cli("run", "-c", str(config), "--quiet").returncode == 0
        before = sim_stats(url)["requests"]
        first_night.write_text("".join(json.dumps(t) + "\n" for t in tasks))  # 2 new: 10 %
        assert run_cli("run", "-c", str(config), "--quiet").returncode == 0
        sent = sim_stats(url)["requests"] - before
    assert sent == 2 * 2  # 2 new tasks × samples_per_task 2
    nights = read_jsonl(tmp_path / "out" / "history.jsonl")
    assert nights[1]["stages"]["harvest"]["sent"] == 4
    assert nights[1]["stages"]["grade"]["total"] - nights[1]["stages"]["grade"]["cached"] == 4


def test_teacher_fatal_exits_3_with_a_one_screen_summary_even_when_quiet(tmp_path: Path) -> None:
    with running_sim(SimConfig(seed=1, status_override=401)) as url:
        config = write_config(tmp_path, url)
        result = run_cli("run", "-c", str(config), "--quiet")
    assert result.returncode == 3
    assert "distill run" in result.stdout and "teacher_fatal" in result.stdout
    assert len(result.stdout.splitlines()) < 25
    assert result.stderr.strip().splitlines()[-1].startswith("distill: error: ")
    history = read_jsonl(tmp_path / "out" / "history.jsonl")
    assert history[-1]["outcome"] == "teacher_fatal" and history[-1]["exit_code"] == 3


def test_nightly_config_imports_sources_then_only_new_rows_cost_anything(
    tmp_path: Path, sim: str
) -> None:
    """configs/nightly.toml as shipped, pointed at a copy of its dataset and at a test repo."""
    dataset = tmp_path / "gsm8k.jsonl"
    rows = (ROOT / "prompts/datasets/gsm8k_sample.jsonl").read_text().splitlines(keepends=True)
    dataset.write_text("".join(rows[:2]))
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    out = tmp_path / "out"
    overrides = [
        f"teachers.sim.base_url={json.dumps(sim)}",
        f"output_dir={json.dumps(str(out))}",
        f"cache_dir={json.dumps(str(tmp_path / 'cache'))}",
        f"tasks={json.dumps([str(ROOT / 'prompts/examples/math.jsonl'), str(out / 'tasks/*.jsonl')])}",
        f"sources={json.dumps([{'format': 'gsm8k', 'inputs': [str(dataset)], 'output': str(out / 'tasks/gsm8k.jsonl')}, {'format': 'merges', 'repo': str(repo), 'output': str(out / 'tasks/merges.jsonl')}])}",
    ]
    flags = [x for o in overrides for x in ("--set", o)]
    first = run_cli("run", "-c", str(ROOT / "configs/nightly.toml"), "--quiet", *flags)
    assert first.returncode == 0, first.stderr + first.stdout
    dataset.write_text("".join(rows))  # the dataset grew by one row
    second = run_cli("run", "-c", str(ROOT / "configs/nightly.toml"), "--quiet", *flags)
    assert second.returncode == 0, second.stderr
    nights = read_jsonl(out / "history.jsonl")
    assert [n["stages"]["import"]["added"] for n in nights] == [2, 1]
    assert nights[0]["stages"]["import"]["sources"]["1:merges"]["found"] == 0
    assert nights[1]["stages"]["harvest"]["sent"] == 2  # the new task × samples_per_task 2
    tasks = read_jsonl(out / "tasks/gsm8k.jsonl")
    assert [t["reference"]["answer"] for t in tasks] == ["72", "10", "5"]

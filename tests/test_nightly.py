"""`distill run` as cron runs it: lock, log, summary and history, kills, second nights."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from factories import (
    EXAMPLES,
    ROOT,
    cache_entries,
    comparable_rows,
    descendants,
    kill,
    read_jsonl,
    run_cli,
    sim_stats,
    start_cli,
    wait_for,
    write_config,
    write_jsonl,
)

from distill.sim import SimConfig, running_sim

# A code task whose right answer takes 2 s to run (1 s a test): grading is slow enough to be
# caught mid-stage on any machine.
SLOW_TASK = {
    "id": "code-slow",
    "kind": "code",
    "prompt": "Slow echo\n\nRead one line and print it back, after a pause.",
    "reference": {
        "tests": {"public": [{"input": "a\n", "output": "a\n"}],
                  "hidden": [{"input": "b\n", "output": "b\n"}]},
        "solution": "import time\n\ntime.sleep(1.0)\nprint(input())\n",
    },
    "meta": {"language": "python", "time_limit_s": 2},
}  # fmt: skip


def outputs(out: Path) -> dict[str, object]:
    """The splits byte for byte; graded rows without what differs between any two runs."""
    graded = comparable_rows(out / "graded.jsonl")
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
        first = start_cli("run", "-c", str(config), "--quiet")
        wait_for(lambda: lock.exists() and lock.read_text().strip(), "the lock", process=first)
        second = run_cli("run", "-c", str(config), "--quiet")
        _, stderr = first.communicate(timeout=120)
        assert first.returncode == 0, stderr
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


def _logs(out: Path) -> dict[Path, str]:
    return {p: p.read_text() for p in out.glob("runs/*/run.log")}


def test_killed_mid_harvest_and_mid_grade_then_rerun_gives_identical_outputs(
    tmp_path: Path,
) -> None:
    slow = write_jsonl(tmp_path / "slow.jsonl", [SLOW_TASK])
    tasks = [EXAMPLES["math"], EXAMPLES["code"], EXAMPLES["merge"], slow]
    planned = (12 + 10 + 6 + 1) * 2
    # Answers of 0.1-0.3 s, 16 at a time: about a second of harvest to land a kill in.
    sim = SimConfig(seed=5, latency="uniform:0.1,0.3", task_files=tuple(map(str, tasks)))
    with running_sim(sim) as url:
        for d in ("reference", "killed"):
            (tmp_path / d).mkdir()
        reference = write_config(tmp_path / "reference", url, tasks=tasks)
        assert run_cli("run", "-c", str(reference), "--quiet").returncode == 0
        graded = read_jsonl(tmp_path / "reference" / "out" / "graded.jsonl")
        assert len(graded) == planned
        slow_rows = [r for r in graded if r["task_id"] == "code-slow"]
        assert any(r["verdict"]["status"] == "pass" for r in slow_rows)  # a slow one ran
        before = sim_stats(url)["requests"]

        config = write_config(tmp_path / "killed", url, tasks=tasks)
        out = tmp_path / "killed" / "out"
        harvest_cache = tmp_path / "killed" / "cache" / "harvest"

        # Mid-harvest: some answers are cached, not all; the stage wrote nothing yet.
        process = start_cli("run", "-c", str(config), "--quiet")
        wait_for(lambda: cache_entries(harvest_cache) >= 8, "8 answers cached", process=process)
        kill(process)
        assert 8 <= cache_entries(harvest_cache) < planned
        assert not (out / "samples.jsonl").exists()
        assert not any("harvest: done" in text for text in _logs(out).values())

        # Mid-grade: the harvest finished in this run and the graders are at work (the pool or
        # the sandbox is up); the stage wrote nothing yet.
        old = set(_logs(out))
        process = start_cli("run", "-c", str(config), "--quiet")

        def grading() -> bool:
            new = [text for p, text in _logs(out).items() if p not in old]
            return bool(new) and "grade: started" in new[0] and bool(descendants(process.pid))

        wait_for(grading, "the graders at work", process=process)
        kill(process)
        assert (out / "samples.jsonl").exists()
        assert not (out / "graded.jsonl").exists()
        assert not any("grade: done" in text for text in _logs(out).values())
        assert cache_entries(harvest_cache) == planned
        sent_before_rerun = sim_stats(url)["requests"]

        result = run_cli("run", "-c", str(config), "--quiet")
        assert result.returncode == 0, result.stderr
        # The rerun sends nothing: only the answers in flight at the first kill were paid twice.
        assert sim_stats(url)["requests"] == sent_before_rerun
        assert planned <= sent_before_rerun - before <= planned + 16  # max_in_flight
    assert outputs(out) == outputs(tmp_path / "reference" / "out")


def test_a_second_night_with_ten_percent_new_tasks_sends_only_their_requests(
    tmp_path: Path,
) -> None:
    tasks = read_jsonl(EXAMPLES["math"]) + read_jsonl(EXAMPLES["chat"])  # 22 tasks
    first_night = tmp_path / "tasks.jsonl"
    write_jsonl(first_night, tasks[:20])
    with running_sim(SimConfig(seed=9)) as url:
        config = write_config(tmp_path, url, tasks=[first_night])
        assert run_cli("run", "-c", str(config), "--quiet").returncode == 0
        before = sim_stats(url)["requests"]
        write_jsonl(first_night, tasks)  # 2 new: 10 %
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

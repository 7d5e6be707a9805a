"""What tests build and drive: tasks, samples and graded rows, JSONL files, configs pointing at the
teacher simulator, the real `distill` command, and the counters that show a run's progress.

Fixtures live in conftest.py; everything here is a plain function, so a test can call it inside
its own `running_sim(...)` block.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distill.paths import example_task_files
from distill.records import Sample, Task, Verdict

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {p.stem: p for p in example_task_files()}

# --- records ----------------------------------------------------------------------------------


def make_task(
    kind: str = "chat",
    reference: dict[str, Any] | None = None,
    *,
    id: str = "",
    prompt: str = "question",
    **fields: Any,
) -> Task:
    """A task; its id is `<kind>-1` unless given."""
    return Task(id=id or f"{kind}-1", kind=kind, prompt=prompt, reference=reference or {}, **fields)


def make_sample(
    content: str = "",
    *,
    task_id: str = "t",
    index: int = 0,
    teacher: str = "sim",
    reasoning: str = "",
    status: str = "ok",
    finish_reason: str = "stop",
    messages: list[dict[str, Any]] | None = None,
    verdict: Verdict | None = None,
    **fields: Any,
) -> Sample:
    """A harvested sample answering `content`; its reasoning is raw when there is any."""
    return Sample(
        task_id=task_id,
        sample_index=index,
        teacher=teacher,
        request_key=fields.pop("request_key", f"k-{task_id}-{index}"),
        messages=messages if messages is not None else [{"role": "user", "content": "question"}],
        status=status,
        reasoning=reasoning,
        reasoning_kind=fields.pop("reasoning_kind", "raw" if reasoning else "none"),
        content=content,
        finish_reason=finish_reason,
        verdict=verdict,
        **fields,
    )


def graded_row(task: dict[str, Any], index: int, verdict: str, **over: Any) -> dict[str, Any]:
    """A graded.jsonl row: sample `index` of the task row `task` with a `verdict` status;
    `over` replaces any top-level field."""
    row: dict[str, Any] = {
        "task_id": task["id"],
        "sample_index": index,
        "teacher": over.pop("teacher", "r1"),
        "request_key": f"k-{task['id']}-{index}",
        "messages": [
            {"role": "system", "content": "Be careful."},
            {"role": "user", "content": task["prompt"]},
        ],
        "status": "ok",
        "model": "sim-r1",
        "reasoning": f"Reasoning for {task['id']} sample {index}.",
        "reasoning_kind": "raw",
        "content": f"The answer is {task['id']}-{index}.",
        "finish_reason": "stop",
        "verdict": {
            "grader": "g",
            "grader_version": "1",
            "status": verdict,
            "score": 1.0,
            "reason": "r",
            "details": {},
        },
    }
    row.update(over)
    return row


# --- files and configs ------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Rows (dicts, or records with to_dict) one per line; missing folders are made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(r.to_dict() if hasattr(r, "to_dict") else r) + "\n" for r in rows)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def comparable_rows(path: Path) -> list[dict[str, Any]]:
    """Sample or graded rows without what differs between any two runs: arrival time, latency
    and grading time."""
    rows = read_jsonl(path)
    for row in rows:
        del row["created_at"], row["latency_s"]
        if "verdict" in row:
            row["verdict"]["details"].pop("time_s", None)
    return rows


def teacher_toml(
    base_url: str,
    *,
    name: str = "sim",
    model: str = "sim-r1",
    provider: str = "openai_compat",
    samples_per_task: int = 2,
    timeout_s: float = 10,
    max_in_flight: int = 16,
    extra: str = "",
    limits: str = "",
) -> str:
    """A [teachers.<name>] table; `extra` goes in the teacher table, `limits` in its limits."""
    return f"""
[teachers.{name}]
provider = "{provider}"
model = "{model}"
base_url = "{base_url}"
samples_per_task = {samples_per_task}
timeout_s = {timeout_s}
{extra}
[teachers.{name}.limits]
max_in_flight = {max_in_flight}
{limits}
"""


def write_config(
    directory: Path,
    base_url: str,
    *,
    kinds: tuple[str, ...] = ("math", "merge", "chat"),
    teacher: str = "",
    extra: str = "",
    tasks: list[Path] | None = None,
) -> Path:
    """distill.toml in `directory` over the bundled example tasks of `kinds` (or `tasks`),
    outputs in out/ and cache/ beside it, fast retries, one teacher (teacher_toml's defaults)."""
    files = tasks if tasks is not None else [EXAMPLES[k] for k in kinds]
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
{teacher or teacher_toml(base_url)}
{extra}
"""
    path = directory / "distill.toml"
    path.write_text(text)
    return path


# --- running distill and watching it ----------------------------------------------------------


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(extra or {})
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `distill` command in a subprocess, to the end."""
    return subprocess.run(
        [sys.executable, "-m", "distill", *args],
        capture_output=True,
        text=True,
        env=_env(env),
        cwd=cwd or ROOT,
        timeout=240,
        check=False,
    )


def start_cli(*args: str) -> subprocess.Popen[str]:
    """Start the real `distill` command in a subprocess and return at once (to kill it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "distill", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(None), cwd=ROOT,
    )  # fmt: skip


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL a run started by start_cli: no chance to clean up, as a crash or the OOM killer."""
    process.kill()
    process.communicate()  # reaps it and closes its pipes


def wait_for(
    predicate: Callable[[], object],
    what: str,
    timeout: float = 60.0,
    process: subprocess.Popen[str] | None = None,
) -> None:
    """Poll until `predicate()` is true; fail naming `what` at the deadline, or at once when
    `process` has exited (what it waits for can then never happen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run exited ({process.returncode}) before {what}")
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sim_stats(base_url: str) -> dict[str, Any]:
    """The simulator's counters (GET /stats): requests, ok_answers, in_flight, …"""
    root = base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/stats", timeout=10) as response:
        stats: dict[str, Any] = json.load(response)
    return stats


def cache_entries(directory: Path) -> int:
    """Entries in the diskcache at `directory` (0 before it exists), read without writing to it,
    so a run that is writing there is not disturbed."""
    database = directory / "cache.db"
    if not database.exists():
        return 0
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        (count,) = connection.execute("SELECT COUNT(*) FROM Cache").fetchone()
    except sqlite3.OperationalError:  # created, but its tables not yet
        return 0
    finally:
        connection.close()
    return int(count)


def descendants(pid: int) -> set[int]:
    """The live processes below `pid` (Linux /proc; empty elsewhere)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found

"""An output directory as pandas frames: the samples (graded.jsonl, else samples.jsonl), the
nightly history (history.jsonl), and the size of the cache. Read-only; nothing is written."""

from __future__ import annotations

import glob
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from distill.errors import DistillError, InputError
from distill.jsonl import NOT_AN_OBJECT, BadLine, iter_jsonl
from distill.records import JUDGED, iter_samples, read_tasks
from distill.spend import Spend

log = logging.getLogger(__name__)

AXES = ("teacher", "kind", "grader")
SAMPLE_COLUMNS = (
    "task_id", "sample_index", "teacher", "model", "kind", "status", "error_kind",
    "finish_reason", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens",
    "cost_usd", "latency_s", "reasoning_chars", "reasoning_kind", "grader", "verdict", "reason",
)  # fmt: skip
RUN_COLUMNS = (
    "run_id", "started_at", "finished_at", "outcome", "exit_code", "error", "seconds",
    "spend_usd", "samples_errors",
)  # fmt: skip


@dataclass
class ReportData:
    """What `status` and `report` show. `samples` has SAMPLE_COLUMNS (verdict is "" when the
    sample has none); `runs` has RUN_COLUMNS, oldest first; `rates` is the runs' pass rates
    in long form (run_id, started_at, axis, name, rate)."""

    out: Path
    samples: Any  # pd.DataFrame
    runs: Any  # pd.DataFrame
    rates: Any  # pd.DataFrame
    history: list[dict[str, Any]] = field(default_factory=list)
    samples_file: Path | None = None
    stale_grades: bool = False  # samples.jsonl is newer than graded.jsonl
    task_count: int | None = None
    cache_dir: Path | None = None
    cache_bytes: int | None = None
    name: str = ""
    # distill.spend's figures: from graded.jsonl when it is what was read, else the newest run's
    spend: dict[str, Any] = field(default_factory=dict)
    # The newest harvest's adaptive teachers (teacher → tasks, samples, accepted, outcomes)
    adaptive: dict[str, dict[str, int]] = field(default_factory=dict)
    adaptive_run: str = ""
    # Batches submitted and not yet collected: teacher → (batches, requests, oldest time.time())
    open_batches: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    @property
    def last_run(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None


def load(
    out: Path,
    *,
    kinds: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    name: str = "",
) -> ReportData:
    """Read `out`. `kinds` maps task id → kind (from a config); without it, the task files named
    in `out/config.resolved.json` are read if they are still there, else kinds are "unknown"."""
    out = Path(os.path.abspath(out))
    if not out.is_dir():
        raise InputError(f"{out}: no such output directory (run `distill run` first)")
    graded, harvested, history_file = (
        out / "graded.jsonl", out / "samples.jsonl", out / "history.jsonl",
    )  # fmt: skip
    samples_file = graded if graded.exists() else harvested if harvested.exists() else None
    if samples_file is None and not history_file.exists():
        raise InputError(
            f"{out}: no graded.jsonl, samples.jsonl or history.jsonl here "
            "(is this an output directory? run `distill run` first)"
        )
    resolved = _resolved_config(out)
    if kinds is None:
        kinds = _kinds_from(resolved)
    if cache_dir is None and resolved.get("cache_dir"):
        cache_dir = Path(resolved["cache_dir"])
    history = read_history(history_file)
    runs, rates = history_frames(history)
    samples = samples_frame(samples_file, kinds or {})
    adaptive_run, adaptive = last_adaptive(history)
    return ReportData(
        out=out,
        samples=samples,
        runs=runs,
        rates=rates,
        history=history,
        samples_file=samples_file,
        stale_grades=samples_file == graded
        and harvested.exists()
        and harvested.stat().st_mtime > graded.stat().st_mtime,
        task_count=len(kinds) if kinds else None,
        cache_dir=cache_dir,
        cache_bytes=disk_usage(cache_dir) if cache_dir is not None else None,
        name=name or str(resolved.get("name") or (history[-1].get("name", "") if history else "")),
        spend=spend_of(samples) if samples_file == graded else last_spend(history),
        adaptive=adaptive,
        adaptive_run=adaptive_run,
        open_batches=open_batches(out / "batches"),
    )


def open_batches(folder: Path) -> dict[str, tuple[int, int, float]]:
    """What each batch teacher's state file (`<out>/batches/<teacher>.json`, written by the
    harvest) still waits for: batches, requests, and when the oldest was submitted."""
    found: dict[str, tuple[int, int, float]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            submissions = json.loads(path.read_text(encoding="utf-8"))["submissions"]
            if submissions:
                found[path.stem] = (
                    len(submissions),
                    sum(len(s["keys"]) for s in submissions),
                    min(float(s["created_at"]) for s in submissions),
                )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable batch state (%s)", path, exc)
    return found


def samples_frame(path: Path | None, kinds: dict[str, str]) -> Any:
    """One row per sample (SAMPLE_COLUMNS); of the reasoning text only its length is kept."""
    rows: list[tuple[Any, ...]] = []
    if path is not None:
        for s in iter_samples(path):
            v = s.verdict
            rows.append((
                s.task_id, s.sample_index, s.teacher, s.model, kinds.get(s.task_id, "unknown"),
                s.status, (s.error or {}).get("kind", "") or ("unknown" if s.error else ""),
                s.finish_reason, s.usage.prompt_tokens, s.usage.completion_tokens,
                s.usage.reasoning_tokens, s.usage.cached_tokens, s.cost_usd, s.latency_s,
                len(s.reasoning), s.reasoning_kind, v.grader if v else "", v.status if v else "",
                v.reason if v else "",
            ))  # fmt: skip
    return pd.DataFrame.from_records(rows, columns=list(SAMPLE_COLUMNS))


def spend_of(samples: Any) -> dict[str, Any]:
    """distill.spend's figures over the samples frame (graded.jsonl read once, not twice)."""
    spend = Spend()
    columns = ("task_id", "teacher", "kind", "cost_usd", "verdict")
    for task_id, teacher, kind, cost, verdict in zip(*(samples[c] for c in columns), strict=True):
        spend.add(str(task_id), str(teacher), str(kind), float(cost), str(verdict))
    return spend.result() if len(samples) else {}


def last_spend(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest run summary's `spend` (the pipeline's distill.spend figures), if any."""
    for run in reversed(history):
        if isinstance(run.get("spend"), dict) and run["spend"]:
            return dict(run["spend"])
    return {}


def last_adaptive(history: list[dict[str, Any]]) -> tuple[str, dict[str, dict[str, int]]]:
    """(run id, its harvest's `adaptive` figures) of the newest run that harvested; an older
    run's figures would describe teachers that may since have changed."""
    for run in reversed(history):
        harvest = (run.get("stages") or {}).get("harvest")
        if isinstance(harvest, dict):
            adaptive = harvest.get("adaptive")
            return str(run["run_id"]), dict(adaptive) if isinstance(adaptive, dict) else {}
    return "", {}


def read_history(path: Path) -> list[dict[str, Any]]:
    """history.jsonl, oldest first. A line that does not parse (one being appended right now, or
    a damaged one) is skipped with a warning: a report must not fail on a night that did."""
    if not path.exists():
        return []
    runs: list[dict[str, Any]] = []

    def skip(bad: BadLine) -> None:
        what = "not a run summary" if bad.reason == NOT_AN_OBJECT else "not a JSON line"
        log.warning("%s:%d: %s; skipped", path, bad.line, what)

    for line_no, row in iter_jsonl(path, on_bad=skip):
        if row.get("run_id"):
            runs.append(row)
        else:
            log.warning("%s:%d: not a run summary; skipped", path, line_no)
    runs.sort(key=lambda r: str(r.get("started_at") or ""))
    return runs


def history_frames(history: list[dict[str, Any]]) -> tuple[Any, Any]:
    runs = []
    rates = []
    for r in history:
        started = _when(r.get("started_at"))
        stages = r.get("stages") or {}
        harvest = stages.get("harvest") or {}
        seconds = r.get("seconds")
        finished = _when(r.get("finished_at"))
        if seconds is None and started is not None and finished is not None:
            seconds = (finished - started).total_seconds()
        spend = r.get("spend_usd", harvest.get("cost_usd"))
        runs.append((
            str(r["run_id"]), started, finished, str(r.get("outcome") or "?"), r.get("exit_code"),
            str(r.get("error") or ""), seconds, float(spend) if spend is not None else None,
            harvest.get("errors"),
        ))  # fmt: skip
        for axis, by_name in (r.get("pass_rates") or {}).items():
            for key, rate in (by_name or {}).items():
                if isinstance(rate, int | float):
                    rates.append((r["run_id"], started, axis, key, float(rate)))
    return (
        pd.DataFrame.from_records(runs, columns=list(RUN_COLUMNS)),
        pd.DataFrame.from_records(rates, columns=["run_id", "started_at", "axis", "name", "rate"]),
    )


def pass_rates(samples: Any, axis: str) -> Any:
    """Per value of `axis` (teacher, kind, grader): judged, passed, suspect, rate (pass/judged)."""
    judged = samples.loc[samples["verdict"].isin(JUDGED), [axis, "verdict"]]
    columns = ["judged", "passed", "suspect"]
    if judged.empty:
        return pd.DataFrame(columns=[axis, *columns, "rate"])
    flags = judged.assign(
        judged=1,
        passed=judged["verdict"].eq("pass").astype(int),
        suspect=judged["verdict"].eq("suspect").astype(int),
    )
    table = flags.groupby(axis, sort=True)[columns].sum()
    table["rate"] = table["passed"] / table["judged"]
    return table.reset_index()


def disk_usage(path: Path) -> int | None:
    """Bytes on disk under path (allocated blocks, as du counts them); None when it is absent."""
    if not path.exists():
        return None
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            blocks = getattr(st, "st_blocks", None)
            total += blocks * 512 if blocks is not None else st.st_size
    return total


def kinds_of_tasks(paths: list[str]) -> dict[str, str]:
    files: list[str] = []
    for pattern in paths:
        files.extend(sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern])
    return {t.id: t.kind for t in read_tasks(files)}


def _resolved_config(out: Path) -> dict[str, Any]:
    path = out / "config.resolved.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable (%s); task kinds unknown", path, exc)
        return {}
    return value if isinstance(value, dict) else {}


def _kinds_from(resolved: dict[str, Any]) -> dict[str, str]:
    tasks = resolved.get("tasks")
    if not tasks:
        return {}
    try:
        return kinds_of_tasks([str(t) for t in tasks])
    except DistillError as exc:
        log.warning("task kinds unknown: %s", exc)
        return {}


def _when(value: Any) -> Any:
    """An ISO time as a UTC pandas Timestamp; None when absent or unreadable."""
    if not value:
        return None
    try:
        stamp = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

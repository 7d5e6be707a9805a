"""run_grade: attach a verdict to every sample; cached, in worker processes, never a crash.

Where the graders run is decided here alone: in this process (a few verdicts), a process pool
(`grade.executor = "process"`), or Ray tasks (`"ray"`, distill.grade.ray_executor, imported only
then); the same jobs and the same `grade_one` everywhere, so the verdicts are the same.

A verdict is cached under (the graded part of the sample, the task reference, grader name and
version, grader options), so regrading unchanged samples is a cache read. A grader that raises
gives an `error` verdict (the harness failed), never a `fail` (the answer is wrong).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diskcache

from distill.config import Config
from distill.errors import ConfigError, InputError
from distill.grade.registry import GRADERS, Grader
from distill.jsonl import write_jsonl_atomic
from distill.keys import content_hash
from distill.records import Sample, Task, Verdict, iter_samples
from distill.tasks import load_tasks, task_files

log = logging.getLogger(__name__)

# Below these many new verdicts, starting worker processes costs more than it saves.
PARALLEL_FROM = 256
PARALLEL_FROM_SLOW = 8
SLOW_GRADERS = frozenset({"code"})  # each verdict runs programs: parallel pays off early


@dataclass
class GradeResult:
    graded_path: Path
    total: int = 0
    cached: int = 0
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # grader, status, reason

    def by_status(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (_, status, _), n in self.counts.items():
            out[status] += n
        return out


def run_grade(config: Config) -> GradeResult:
    samples_path = config.out / "samples.jsonl"
    if not samples_path.exists():
        raise InputError(
            f"{samples_path}: no samples yet; run `distill harvest -c {config.source}` first"
        )
    if config.grade.executor == "ray":  # a missing extra fails before any work, cached or not
        from distill.grade import ray_executor

        ray_executor.require_ray()
    tasks = {t.id: t for t in load_tasks(config)}
    graders = graders_for(config)
    cache = diskcache.Cache(str(config.cache / "grade"), eviction_policy="none", size_limit=2**62)
    result = GradeResult(config.out / "graded.jsonl")
    try:
        samples = list(iter_samples(samples_path))
        verdicts: list[Verdict | None] = []
        jobs: list[tuple[int, str, Grader, Task, Sample]] = []
        waiting: dict[str, list[int]] = {}  # verdict key → the samples that share it
        for i, sample in enumerate(samples):
            verdict, job = precheck(sample, tasks, graders)
            if job is not None:
                grader, task = job
                key = verdict_key(sample, task, grader, config)
                hit = None if config.grade.regrade else cache.get(key)
                if isinstance(hit, dict):
                    verdict = Verdict(**hit)
                    result.cached += 1
                elif key in waiting:  # the same answer to the same task: grade it once
                    waiting[key].append(i)
                else:
                    waiting[key] = [i]
                    jobs.append((i, key, grader, task, sample))
            verdicts.append(verdict)
        for (_, key, *_), verdict in zip(jobs, _grade_all(jobs, config), strict=True):
            for i in waiting[key]:
                verdicts[i] = verdict
            if verdict.status != "error":  # a harness failure is retried next time
                cache.set(key, verdict.to_dict())
        rows = []
        for sample, verdict in zip(samples, verdicts, strict=True):
            assert verdict is not None
            result.counts[(verdict.grader, verdict.status, verdict.reason)] += 1
            row = sample.to_dict()
            row["verdict"] = verdict.to_dict()
            rows.append(row)
        result.total = write_jsonl_atomic(result.graded_path, rows)
    finally:
        cache.close()
    return result


def graders_for(config: Config) -> dict[str, Grader]:
    graders = {}
    for kind, name in config.grade.graders.items():
        if name not in GRADERS:
            known = ", ".join(sorted(GRADERS))
            raise ConfigError(
                f"{config.source}: grade.graders.{kind} = {name!r} is not a grader; known: {known}"
            )
        graders[kind] = GRADERS[name]
    return graders


def precheck(
    sample: Sample, tasks: dict[str, Task], graders: dict[str, Grader]
) -> tuple[Verdict | None, tuple[Grader, Task] | None]:
    """Verdicts that need no grader: harvest errors, unknown tasks, truncated or empty answers."""
    task = tasks.get(sample.task_id)
    name = graders[task.kind].name if task and task.kind in graders else "none"
    version = graders[task.kind].version if task and task.kind in graders else "0"
    if sample.status != "ok":
        return Verdict(name, version, "ungradeable", reason="harvest_error"), None
    if task is None:
        return Verdict(name, version, "ungradeable", reason="unknown_task"), None
    if task.kind not in graders:
        return Verdict(name, version, "ungradeable", reason=f"no_grader_for_{task.kind}"), None
    if sample.finish_reason == "length":
        return Verdict(name, version, "fail", reason="truncated"), None
    if not sample.content.strip():
        return Verdict(name, version, "fail", reason="empty_answer"), None
    return None, (graders[task.kind], task)


def verdict_key(sample: Sample, task: Task, grader: Grader, config: Config) -> str:
    fields: dict[str, Any] = {
        "answer": [sample.content, sample.finish_reason],
        "reference": task.reference,
        "kind": task.kind,
        "grader": [grader.name, grader.version],
        "options": options_of(config, grader),
    }
    if inputs := grader.inputs(task):  # only where read: other keys stay as they were
        fields["task"] = inputs
    return content_hash(fields)


def options_of(config: Config, grader: Grader) -> dict[str, Any]:
    return dict(config.grade.options.get(grader.name, {}))


def hide_paths(config: Config) -> list[str]:
    """What untrusted code must not see: the task files' folders, the outputs, the cache."""
    folders = {path.resolve().parent for path in task_files(config)}
    folders |= {config.out.resolve(), config.cache.resolve()}
    # Covering a folder that holds the interpreter would leave the child no Python to run.
    needed = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    hide = []
    for folder in sorted(folders):
        if any(folder == n or folder in n.parents for n in needed):
            log.warning("not hiding %s from graded code: it holds the Python interpreter", folder)
            continue
        hide.append(str(folder))
    return hide


def init_worker(hide_paths: list[str]) -> None:
    from distill.grade import code

    _die_with_parent()
    code.configure_sandbox(hide_paths)


def _die_with_parent() -> None:
    """A pool worker whose parent was SIGKILLed would linger holding CPU and the run's files:
    on Linux, ask the kernel to kill it with its parent (its sandbox zygote then sees EOF)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


Job = tuple[Grader, Task, Sample, dict[str, Any]]  # what a worker grades: pickled whole


def grade_one(job: Job) -> Verdict:
    grader, task, sample, options = job
    try:
        return grader.fn(task, sample, options)
    except Exception as exc:  # a grader bug is the harness failing, not the answer
        return error_verdict(grader, "grader_crashed", f"{type(exc).__name__}: {exc}")


def error_verdict(grader: Grader, reason: str, error: str) -> Verdict:
    """The harness failed, not the answer: `error` (never cached, graded again next run)."""
    return Verdict(grader.name, grader.version, "error", reason=reason,
                   details={"error": error[:500]})  # fmt: skip


def _grade_all(jobs: list[tuple[int, str, Grader, Task, Sample]], config: Config) -> list[Verdict]:
    work: list[Job] = [(g, t, s, options_of(config, g)) for _, _, g, t, s in jobs]
    workers = config.grade.workers or os.cpu_count() or 1
    hide = hide_paths(config)
    if config.grade.executor == "ray" and work:  # asked for: even a few, as a cluster may be
        from distill.grade import ray_executor  # where untrusted code is meant to run

        return ray_executor.grade_on_ray(work, hide, config)
    slow = sum(1 for grader, *_ in work if grader.name in SLOW_GRADERS)
    if workers < 2 or (len(work) < PARALLEL_FROM and slow < PARALLEL_FROM_SLOW):
        init_worker(hide)
        return [grade_one(item) for item in work]
    with ProcessPoolExecutor(
        max_workers=workers, initializer=init_worker, initargs=(hide,)
    ) as pool:
        return list(pool.map(grade_one, work, chunksize=16))

"""`distill run`: every stage under one run id, one lock, one log file and one summary.

    run_pipeline(config, progress)   import? → harvest → grade → export → train? → eval?

Each run writes `runs/<run_id>/run.log` and `runs/<run_id>/summary.json` under the output
directory and appends the summary to `history.jsonl` (what `distill status` and `distill
report` read). The summary is written however the run ends: success, partial, an error, Ctrl-C.
The stages load on first use, so importing this module loads none of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill.config import Config
from distill.errors import ConfigError, DistillError, ExitCode, InputError, TeacherFatalError
from distill.jsonl import JsonlAppender, write_text_atomic
from distill.records import JUDGED
from distill.runlock import output_lock

if TYPE_CHECKING:
    from distill.harvest import HarvestResult
    from distill.harvest.runner import ProgressFn

log = logging.getLogger(__name__)

OUTCOMES = {
    ConfigError: "config_error",
    InputError: "input_error",
    TeacherFatalError: "teacher_fatal",
}


@dataclass
class PipelineResult:
    run_id: str
    exit_code: ExitCode
    summary: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)  # stage name → its result object


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def run_pipeline(config: Config, progress: ProgressFn | None = None) -> PipelineResult:
    """The nightly run: import the `[[sources]]`, harvest, grade, export, then `[run]` train
    and eval; `progress` sees harvest's figures as they change.

    A DistillError ends the run with its exit code in the result (summary["error"] says why);
    Ctrl-C and internal errors are re-raised once the summary is written. LockedError is raised:
    a run that never got the lock writes nothing into a directory another run owns. A shard
    (harvest only) or a missing train extra is a ConfigError before anything is spent.
    """
    if config.harvest.shard:
        raise ConfigError(
            f"{config.source}: harvest.shard = {config.harvest.shard!r}: `distill run` harvests "
            "every task; run `distill harvest --shard I/N` on each machine and "
            "`distill merge-shards`, then `distill run` without a shard (it sends nothing "
            "already answered)"
        )
    from distill.export import run_export
    from distill.grade import run_grade

    stages: dict[str, Callable[[], Any]] = {}
    if config.sources:
        from distill.sources import run_sources

        stages["import"] = lambda: run_sources(config)
    stages |= {
        "harvest": lambda: harvest_or_raise(harvest_stage(config, progress)),
        "grade": lambda: run_grade(config),
        "export": lambda: run_export(config),
    }
    stages |= _student_stages(config)
    return run_stages(config, stages, DESCRIBE)


def harvest_stage(config: Config, progress: ProgressFn | None = None) -> HarvestResult:
    """Harvest, grading as answers arrive where a teacher samples adaptively (harvest decides
    its waves from the verdicts; the grade stage after it then reads them from the cache)."""
    from distill.harvest import run_harvest

    if not any(t.adaptive for t in config.teachers.values()):
        return run_harvest(config, progress)
    from distill.grade.live import LiveJudge

    if config.grade.executor == "ray":
        log.info("adaptive sampling grades as answers arrive on local processes, not on Ray")
    judge = LiveJudge(config)
    try:
        return run_harvest(config, progress, judge)
    finally:
        judge.close()


def harvest_or_raise(result: HarvestResult) -> HarvestResult:
    """Harvest's result, raising TeacherFatalError (exit 3) when a teacher refused us."""
    if result.fatal:
        raise TeacherFatalError("; ".join(result.fatal.values()))
    return result


def _student_stages(config: Config) -> dict[str, Callable[[], Any]]:
    """`[run] train` and `eval`: checked before anything is spent, run after export."""
    stages: dict[str, Callable[[], Any]] = {}
    local_student = config.run.eval and not config.train.eval.base_url
    if config.run.train or local_student:
        from distill.train.extra import require_train_extra

        require_train_extra("run")  # a missing extra fails now, not after a paid harvest
    if config.run.train:
        from distill.train.runner import train_if_changed

        stages["train"] = lambda: train_if_changed(config)
    if config.run.eval:
        from distill.train.evaluate import run_eval

        stages["eval"] = lambda: run_eval(config)
    return stages


def run_stages(
    config: Config,
    stages: dict[str, Callable[[], Any]],
    describe: dict[str, Callable[[Any], dict[str, Any]]],
) -> PipelineResult:
    """Run `stages` in order under the output lock; `describe[name](result)` summarises each."""
    run_id = new_run_id()
    run_dir = config.out / "runs" / run_id
    started = time.time()
    summary: dict[str, Any] = {
        "schema_version": 1,
        "run_id": run_id,
        "config": str(Path(config.source).resolve()) if config.source else "",
        "name": config.name,
        "started_at": _iso(started),
        "stages": {},
    }
    result = PipelineResult(run_id, ExitCode.OK, summary)
    with output_lock(config.out, run_id) as previous, run_log(run_dir / "run.log"):
        log.info("run %s: %s, stages %s", run_id, config.source, ", ".join(stages))
        if previous:
            log.warning("taking over the lock left by %s (no longer running)", previous)
        try:
            for name, stage in stages.items():
                began = time.monotonic()
                log.info("%s: started", name)
                outcome = stage()
                result.results[name] = outcome
                info = {"seconds": round(time.monotonic() - began, 3), **describe[name](outcome)}
                summary["stages"][name] = info
                log.info("%s: done in %.1f s: %s", name, info["seconds"], _brief(info))
            partial = summary["stages"].get("harvest", {}).get("errors", 0)
            result.exit_code = ExitCode.PARTIAL if partial else ExitCode.OK
            summary.update(outcome="partial" if partial else "ok", error=None)
        except DistillError as exc:
            result.exit_code = exc.exit_code
            summary.update(outcome=_outcome(exc), error=str(exc))
            log.error("%s", exc)  # the caller reports it; the summary and log are written first
        except KeyboardInterrupt:
            result.exit_code = ExitCode.INTERRUPTED
            summary.update(outcome="interrupted", error="interrupted")
            log.error("interrupted")
            raise
        except Exception as exc:
            result.exit_code = ExitCode.INTERNAL
            summary.update(outcome="internal_error", error=f"{type(exc).__name__}: {exc}")
            log.exception("internal error")
            raise
        finally:
            _finish(config, summary, result.exit_code, started, run_dir)
    return result


def _finish(
    config: Config, summary: dict[str, Any], code: int, started: float, run_dir: Path
) -> None:
    finished = time.time()
    summary.update(
        finished_at=_iso(finished),
        seconds=round(finished - started, 3),
        exit_code=int(code),
        pass_rates=pass_rates(config) | held_out_rates(summary["stages"].get("eval")),
        spend_usd=summary["stages"].get("harvest", {}).get("cost_usd", 0.0),
        spend=spend_per_accepted(config),
    )
    write_text_atomic(
        run_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n"
    )
    with JsonlAppender(config.out / "history.jsonl") as history:
        history.append(summary)
    log.info("run %s: %s (exit %d) in %.1f s", summary["run_id"], summary["outcome"], code,
             summary["seconds"])  # fmt: skip


def held_out_rates(evaluation: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    """Teacher and student pass rates on the held-out tasks, from the eval stage's summary."""
    every = (evaluation or {}).get("rows", [{}])[-1]
    rates = {who: every[who]["rate"] for who in ("teacher", "student") if who in every}
    return {"held_out": {k: v for k, v in rates.items() if v is not None}} if rates else {}


def _task_kinds(config: Config) -> dict[str, str]:
    try:
        from distill.tasks import load_tasks

        return {t.id: t.kind for t in load_tasks(config)}
    except DistillError:
        return {}


def spend_per_accepted(config: Config) -> dict[str, Any]:
    """$ per accepted sample per teacher and kind, over graded.jsonl (distill.spend)."""
    from distill.spend import cost_per_accepted

    graded = config.out / "graded.jsonl"
    return cost_per_accepted(graded, _task_kinds(config)) if graded.exists() else {}


def pass_rates(config: Config) -> dict[str, dict[str, float]]:
    """Pass rate per teacher, kind and grader over graded.jsonl: pass / (pass + fail + suspect)."""
    from distill.records import iter_samples

    graded = config.out / "graded.jsonl"
    if not graded.exists():
        return {}
    kinds = _task_kinds(config)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for s in iter_samples(graded):
        if s.verdict is None or s.verdict.status not in JUDGED:
            continue
        for axis, key in (("teacher", s.teacher), ("kind", kinds.get(s.task_id, "unknown")),
                          ("grader", s.verdict.grader)):  # fmt: skip
            counts[f"{axis}:total"][key] += 1
            counts[f"{axis}:pass"][key] += s.verdict.status == "pass"
    return {
        axis: {
            k: round(counts[f"{axis}:pass"][k] / n, 4)
            for k, n in sorted(counts[f"{axis}:total"].items())
        }
        for axis in ("teacher", "kind", "grader")
    }


@contextlib.contextmanager
def run_log(path: Path) -> Iterator[None]:
    """Everything distill logs at INFO and up also goes to `path`, whatever the console shows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for console in root.handlers:  # keep the console at the level the user chose
        if console.level == logging.NOTSET:
            console.setLevel(root.level)
    previous = root.level
    root.setLevel(min(previous, logging.INFO))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def _outcome(exc: DistillError) -> str:
    for cls, name in OUTCOMES.items():
        if isinstance(exc, cls):
            return name
    return "error"


def _brief(info: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v}" for k, v in info.items() if k != "seconds" and not isinstance(v, dict | list)
    )


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def describe_harvest(result: Any) -> dict[str, Any]:
    s = result.stats
    return {
        "planned": s.planned, "cached": s.cached, "sent": s.to_send, "ok": s.ok,
        "errors": s.errors, "errors_by_kind": dict(s.errors_by_kind), "retries": s.retries,
        "rate_limited": s.rate_limited, "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens, "cost_usd": round(s.cost_usd, 6),
        "cache_hit_tokens": s.cache_hit_tokens, "cache_write_tokens": s.cache_write_tokens,
        "cache_saving_usd": round(s.cache_saving_usd, 6), "batch_submitted": s.batch_submitted,
        "batch_collected": s.batch_collected, "batch_open": s.batch_open,
        "batch_ids": list(s.batch_ids), "adaptive": dict(s.adaptive),
    }  # fmt: skip


def describe_grade(result: Any) -> dict[str, Any]:
    by_grader: dict[str, Counter[str]] = defaultdict(Counter)
    for (grader, status, _), n in result.counts.items():
        by_grader[grader][status] += n
    return {
        "total": result.total,
        "cached": result.cached,
        "by_status": dict(sorted(result.by_status().items())),
        "by_grader": {g: dict(sorted(c.items())) for g, c in sorted(by_grader.items())},
    }


def describe_export(result: Any) -> dict[str, Any]:
    return {
        "train_rows": result.train_rows,
        "val_rows": result.val_rows,
        "dropped": dict(sorted(result.dropped.items())),
    }


def describe_train(result: Any) -> dict[str, Any]:
    return {
        "train_rows": result.train_rows,
        "val_rows": result.val_rows,
        "dropped": dict(sorted(result.dropped.items())),
        "steps": result.global_step,
        "train_loss": result.train_loss,
        "eval_loss": result.eval_loss,
        "tokens_per_s": round(result.tokens_per_s, 1),
        "model": str(result.merged_dir or result.adapter_dir),
        "unchanged": result.unchanged,  # kept from an earlier night: same splits and settings
    }


def describe_eval(result: Any) -> dict[str, Any]:
    """Pass rates per kind, teacher and student side by side (the last row is "all")."""
    return {
        "student": result.student,
        "table": str(result.table_path),
        "rows": [row.to_dict() for row in result.rows],
    }


DESCRIBE: dict[str, Callable[[Any], dict[str, Any]]] = {
    "import": dict,  # run_sources already reports a summary-ready dict
    "harvest": describe_harvest,
    "grade": describe_grade,
    "export": describe_export,
    "train": describe_train,
    "eval": describe_eval,
}

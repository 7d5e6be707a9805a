"""run_eval: the student answers the held-out tasks; the teacher's graders grade it; one table.

The held-out tasks are those of the validation split (by task id when a row carries one, else
by its prompt). The student sees exactly the prompt it would have trained on. Its answers become
ordinary samples (samples.jsonl) graded by `run_grade` with the pipeline's graders and options,
so a student verdict means what a teacher verdict means. Pass rates per task kind, teacher and
student side by side, go to eval.json beside the model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distill.config import Config, Limits, TeacherConfig
from distill.errors import InputError, TeacherFatalError
from distill.jsonl import iter_jsonl, write_jsonl_atomic, write_text_atomic
from distill.keys import content_hash
from distill.prompts import PromptLibrary, PromptRenderer
from distill.records import JUDGED, Sample, Task, Usage, iter_samples
from distill.tasks import load_tasks
from distill.train.data import Messages, read_split, resolve, student_dir

log = logging.getLogger(__name__)

STUDENT = "student"


@dataclass
class KindRow:
    kind: str
    tasks: int = 0
    teacher_pass: int = 0
    teacher_total: int = 0
    student_pass: int = 0
    student_total: int = 0  # judged answers (pass, fail, suspect): a pass rate's denominator
    student_not_judged: int = 0  # failed requests and ungradeable answers: in no pass rate

    @staticmethod
    def rate(passed: int, total: int) -> float | None:
        return passed / total if total else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tasks": self.tasks,
            "teacher": {"pass": self.teacher_pass, "total": self.teacher_total,
                        "rate": self.rate(self.teacher_pass, self.teacher_total)},
            "student": {"pass": self.student_pass, "total": self.student_total,
                        "rate": self.rate(self.student_pass, self.student_total),
                        "not_judged": self.student_not_judged},
        }  # fmt: skip


@dataclass
class EvalResult:
    out: Path
    table_path: Path
    student: str  # the model directory or server model that answered
    rows: list[KindRow]  # one per kind, then "all"
    student_statuses: Counter[str] = field(default_factory=Counter)
    finish_reasons: Counter[str] = field(default_factory=Counter)
    unmatched_rows: int = 0
    request_errors: int = 0  # student server requests that failed after every retry


def run_eval(config: Config) -> EvalResult:
    e = config.train.eval
    split = resolve(config, e.split) if e.split else config.out / "val.jsonl"
    tasks = {t.id: t for t in load_tasks(config)}
    held_out, unmatched = held_out_tasks(config, split, tasks)
    if not held_out:
        raise InputError(
            f"{split}: none of its rows matches a task of {config.source}; evaluate with the "
            "config whose tasks were exported (or set train.eval.split)"
        )
    if e.max_tasks:
        held_out = held_out[: e.max_tasks]
    server = bool(e.base_url)
    model_dir, out = student_target(config)
    task_file = out / "tasks.jsonl"
    write_jsonl_atomic(task_file, [t.to_dict() for t in held_out])
    student_cfg = _student_config(config, task_file, out)
    request_errors = 0
    if server:
        request_errors = _ask_server(student_cfg, e.base_url)
    else:
        assert model_dir is not None
        _ask_local(config, model_dir, held_out, out / "samples.jsonl")
    from distill.grade import run_grade

    graded = run_grade(student_cfg)
    result = EvalResult(out, out / "eval.json", e.server_model if server else str(model_dir), [])
    result.unmatched_rows = unmatched
    result.request_errors = request_errors
    result.rows = _table(config, held_out, graded.graded_path, result)
    _write_table(config, result, split)
    return result


def held_out_tasks(config: Config, split: Path, tasks: dict[str, Task]) -> tuple[list[Task], int]:
    """The tasks of the split's rows, in row order, each carrying the prompt it was shown."""
    by_prompt = _prompt_index(config, tasks)
    rows = read_split(split, config, "train.eval.split")
    raw = (obj for _, obj in iter_jsonl(split))
    chosen: dict[str, Task] = {}
    unmatched = 0
    for row, obj in zip(rows, raw, strict=True):
        prompt = row.messages[:-1]
        meta = obj.get("metadata")
        given = obj.get("task_id") or (meta.get("task_id") if isinstance(meta, dict) else None)
        task_id = given or by_prompt.get(_key(prompt))
        if task_id not in tasks:
            unmatched += 1
            continue
        if task_id not in chosen:
            chosen[task_id] = dataclasses.replace(tasks[task_id], messages=prompt)
    if unmatched:
        log.warning("%s: %d rows match no task of %s (skipped)", split, unmatched, config.source)
    return list(chosen.values()), unmatched


def _prompt_index(config: Config, tasks: dict[str, Task]) -> dict[str, str]:
    """Last user message → task id, from what harvest sent and what the teacher was shown."""
    renderer = PromptRenderer(PromptLibrary.load(config.prompts.library), config.prompts)
    index = {_key(renderer.messages(t)): t.id for t in tasks.values()}
    graded = config.out / "graded.jsonl"
    if graded.exists():
        for sample in iter_samples(graded):
            index.setdefault(_key(sample.messages), sample.task_id)
    return index


def _key(messages: Messages) -> str:
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    return users[-1].strip() if users else ""


def student_target(config: Config) -> tuple[Path | None, Path]:
    """(the local model directory, or None for a server; the folder the eval writes to)."""
    model_dir = None if config.train.eval.base_url else _model_dir(config)
    return model_dir, _eval_dir(config, model_dir)


def _model_dir(config: Config) -> Path:
    if config.train.eval.model:
        path = resolve(config, config.train.eval.model)
        if not path.is_dir():
            raise InputError(f"train.eval.model: {path} is not a model directory")
        return path
    student = student_dir(config)
    for candidate in (student / "merged", student / "adapter"):
        if candidate.is_dir():
            return candidate
    raise InputError(
        f"{student}: no trained student yet; run `distill train -c {config.source}` first, "
        "or give --model DIR (or --base-url with --server-model for a server)"
    )


def _eval_dir(config: Config, model_dir: Path | None) -> Path:
    e = config.train.eval
    if e.output_dir:
        return resolve(config, e.output_dir)
    if model_dir is not None:
        return model_dir / "eval"
    return config.out / "eval" / re.sub(r"[^\w.-]+", "_", e.server_model)


def _student_config(config: Config, task_file: Path, out: Path) -> Config:
    """The pipeline config with the student as its only teacher and the held-out tasks."""
    e = config.train.eval
    student = TeacherConfig(
        provider="openai_compat",
        model=e.server_model or STUDENT,
        base_url=e.base_url,
        api_key_env=e.api_key_env,
        samples_per_task=e.samples_per_task,
        max_tokens=e.max_new_tokens,
        temperature=e.temperature,
        timeout_s=e.timeout_s,
        limits=Limits(max_in_flight=e.max_in_flight),
    )
    return dataclasses.replace(
        config,
        tasks=(str(task_file),),
        teachers={STUDENT: student},
        output_dir=str(out),
        cache_dir=str(config.cache / "eval"),
        # The tasks carry their prompts; a system prompt would be added twice.
        prompts=dataclasses.replace(config.prompts, system="none"),
        # The student changes between runs under the same name: never reuse old answers.
        harvest=dataclasses.replace(config.harvest, refresh=True, max_cost_usd=0.0, shard=""),
    )


def _ask_server(student_cfg: Config, url: str) -> int:
    """Ask the server; the number of requests that failed (their answers count in no rate)."""
    from distill.harvest import run_harvest

    result = run_harvest(student_cfg)
    if result.fatal:
        raise TeacherFatalError("; ".join(result.fatal.values()))
    stats = result.stats
    if stats.errors and stats.errors == stats.planned:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.errors_by_kind.items()))
        raise InputError(
            f"train.eval.base_url: all {stats.errors} requests to the student server at {url} "
            f"failed ({kinds}); is the server up and serving --server-model?"
        )
    if stats.errors:
        log.warning("student server: %d of %d requests failed (in no pass rate)", stats.errors,
                    stats.planned)  # fmt: skip
    return int(stats.errors)


def _ask_local(config: Config, model_dir: Path, tasks: list[Task], path: Path) -> None:
    from distill.train.extra import go_offline, quiet_hf, require_train_extra

    e = config.train.eval
    go_offline(allow_hub=False)
    require_train_extra("eval", ("torch", "transformers", "peft"))
    quiet_hf(debug=log.isEnabledFor(logging.DEBUG))
    from distill.reasoning import split_inline_think
    from distill.train.generate import generate, load_student, pick_device

    if config.train.threads:
        import torch

        torch.set_num_threads(config.train.threads)
    device = pick_device(config.train.device)
    base = config.train.base_model  # for an adapter without distill_student.json
    if base and resolve(config, base).is_dir():
        base = str(resolve(config, base))
    model, tokenizer, eot_ids = load_student(model_dir, base, device)
    if e.samples_per_task > 1 and e.temperature == 0:
        log.warning("train.eval.samples_per_task > 1 with temperature 0: the samples are identical")
    jobs = [(t, i) for t in tasks for i in range(e.samples_per_task)]
    prompts = [t.messages or [] for t, _ in jobs]
    started = time.monotonic()
    outputs = generate(
        model,
        tokenizer,
        prompts,
        eot_ids=eot_ids,
        max_new_tokens=e.max_new_tokens,
        temperature=e.temperature,
        batch_size=e.batch_size,
        seed=config.train.seed,
    )
    per_sample = (time.monotonic() - started) / max(len(jobs), 1)
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    samples = []
    for (task, index), prompt, out in zip(jobs, prompts, outputs, strict=True):
        reasoning, answer, _ = split_inline_think(out.text)
        params = {"max_new_tokens": e.max_new_tokens, "temperature": e.temperature}
        key = content_hash(
            {"model": str(model_dir), "messages": prompt, "params": params, "i": index}
        )
        samples.append(
            Sample(
                task_id=task.id,
                sample_index=index,
                teacher=STUDENT,
                request_key=key,
                messages=prompt,
                status="ok",
                model=str(model_dir),
                reasoning=reasoning,
                reasoning_kind="raw" if reasoning else "none",
                content=answer,
                finish_reason=out.finish_reason,
                usage=Usage(
                    prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens
                ),
                latency_s=round(per_sample, 4),
                created_at=now,
            ).to_dict()
        )
    write_jsonl_atomic(path, samples)


def _table(
    config: Config, tasks: list[Task], student_graded: Path, result: EvalResult
) -> list[KindRow]:
    kinds = {t.id: t.kind for t in tasks}
    rows: dict[str, KindRow] = {}
    for task in tasks:
        rows.setdefault(task.kind, KindRow(task.kind)).tasks += 1
    teacher_graded = config.out / "graded.jsonl"
    if teacher_graded.exists():
        for s in iter_samples(teacher_graded):
            if s.task_id in kinds and s.verdict and s.verdict.status in JUDGED:
                row = rows[kinds[s.task_id]]
                row.teacher_total += 1
                row.teacher_pass += s.verdict.status == "pass"
    else:
        log.warning("%s: no teacher verdicts to compare with", teacher_graded)
    for s in iter_samples(student_graded):
        row = rows[kinds[s.task_id]]
        status = s.verdict.status if s.verdict else "ungraded"
        if status in JUDGED:
            row.student_total += 1
            row.student_pass += status == "pass"
        else:
            row.student_not_judged += 1
        result.student_statuses[status] += 1
        result.finish_reasons[s.finish_reason or s.status] += 1
    ordered = [rows[k] for k in sorted(rows)]
    total = KindRow("all")
    for r in ordered:
        for name in ("tasks", "teacher_pass", "teacher_total", "student_pass", "student_total",
                     "student_not_judged"):  # fmt: skip
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return [*ordered, total]


def _write_table(config: Config, result: EvalResult, split: Path) -> None:
    e = config.train.eval
    data = {
        "schema_version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "student": {"model": result.student, "server": e.base_url or None},
        "teachers": sorted(config.teachers),
        "split": str(split),
        "unmatched_rows": result.unmatched_rows,
        "request_errors": result.request_errors,
        "settings": dataclasses.asdict(e),
        "rows": [r.to_dict() for r in result.rows],
        "student_statuses": dict(sorted(result.student_statuses.items())),
        "student_finish_reasons": dict(sorted(result.finish_reasons.items())),
        "samples": str(result.out / "samples.jsonl"),
        "graded": str(result.out / "graded.jsonl"),
    }
    write_text_atomic(result.table_path, json.dumps(data, indent=2) + "\n")

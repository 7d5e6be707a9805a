"""run_export: a pure function of (graded records, export config, seed) → the same bytes.

The split is by task: every sample of a task lands on the same side, so validation never sees a
prompt the student trained on. Rows that were truncated, errored or (with correct_only) did not
pass are counted per reason in the manifest, never silently lost.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill import __version__
from distill.config import Config
from distill.errors import InputError
from distill.export.thinking import assistant_text
from distill.jsonl import write_jsonl_atomic, write_text_atomic
from distill.records import Sample, iter_samples
from distill.tasks import load_tasks


@dataclass
class ExportResult:
    train_path: Path
    val_path: Path
    manifest_path: Path
    train_rows: int = 0
    val_rows: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


def run_export(config: Config) -> ExportResult:
    graded_path = config.out / "graded.jsonl"
    if not graded_path.exists():
        raise InputError(
            f"{graded_path}: nothing graded yet; run `distill grade -c {config.source}` first"
        )
    settings = config.export
    stem = f"{settings.out_file_stem}_" if settings.out_file_stem else ""
    result = ExportResult(
        config.out / f"{stem}train.jsonl",
        config.out / f"{stem}val.jsonl",
        config.out / "manifest.json",
    )
    kinds = {task.id: task.kind for task in load_tasks(config)}
    kept: list[tuple[Sample, dict[str, Any]]] = []
    counts: dict[str, Counter[str]] = {
        "teacher": Counter(),
        "kind": Counter(),
        "verdict": Counter(),
    }
    total = 0
    for sample in iter_samples(graded_path):
        total += 1
        verdict = sample.verdict
        status = verdict.status if verdict else "ungraded"
        counts["verdict"][status] += 1
        reason = _drop_reason(sample, status, settings.correct_only)
        if reason:
            result.dropped[reason] += 1
            continue
        kept.append((sample, _row(sample, settings.reasoning, settings.include_system)))
        counts["teacher"][sample.teacher] += 1
        counts["kind"][kinds.get(sample.task_id, "unknown")] += 1

    val_tasks = _val_tasks(
        sorted({s.task_id for s, _ in kept}), settings.val_fraction, settings.seed
    )
    train = [row for s, row in kept if s.task_id not in val_tasks]
    val = [row for s, row in kept if s.task_id in val_tasks]
    result.train_rows = write_jsonl_atomic(result.train_path, train)
    result.val_rows = write_jsonl_atomic(result.val_path, val)
    manifest = {
        "schema_version": 1,
        "distill_version": __version__,
        "inputs": [{"path": graded_path.name, "sha256": _sha256(graded_path), "rows": total}],
        "export": asdict(settings),
        "outputs": {
            result.train_path.name: {
                "rows": len(train),
                "tasks": len({s.task_id for s, _ in kept}) - len(val_tasks),
            },
            result.val_path.name: {"rows": len(val), "tasks": len(val_tasks)},
        },
        "counts": {name: dict(sorted(c.items())) for name, c in counts.items()},
        "dropped": dict(sorted(result.dropped.items())),
    }
    write_text_atomic(result.manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return result


def _drop_reason(sample: Sample, status: str, correct_only: bool) -> str:
    if sample.status != "ok":
        return "harvest_error"
    if sample.finish_reason == "length":
        return "truncated"
    if not sample.content.strip():
        return "empty_answer"
    if correct_only and status != "pass":
        return f"verdict_{status}"
    return ""


def _row(sample: Sample, placement: str, include_system: bool) -> dict[str, Any]:
    messages = [
        {"role": m["role"], "content": m["content"]}
        for m in sample.messages
        if include_system or m.get("role") != "system"
    ]
    messages.append(
        {
            "role": "assistant",
            "content": assistant_text(sample.reasoning, sample.content, placement),
        }
    )
    return {"messages": messages}


def _val_tasks(task_ids: list[str], fraction: float, seed: int) -> set[str]:
    if fraction <= 0 or len(task_ids) < 2:
        return set()
    order = list(task_ids)
    random.Random(seed).shuffle(order)
    count = min(len(order) - 1, max(1, round(fraction * len(order))))
    return set(order[:count])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

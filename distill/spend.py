"""What an accepted sample cost: spend, samples and passes per teacher, per kind and per (teacher,
kind), from graded.jsonl. Read by the run summary, `distill status` and `distill report`.

A sample is accepted when its verdict is a pass; every row counts as a sample sent (an error
too: it was asked for). The figures are plain JSON (they go into history.jsonl):

    {"all": ROW, "teacher": {name: ROW}, "kind": {kind: ROW}, "teacher_kind": {name: {kind: ROW}}}

ROW: samples, judged, accepted, cost_usd, tasks, tasks_accepted (tasks with a pass),
samples_per_task, accepted_per_task, usd_per_accepted (None when nothing was accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from distill.records import JUDGED, iter_samples

PASS = "pass"
K = TypeVar("K")


@dataclass
class Tally:
    """One group's running counts."""

    samples: int = 0
    judged: int = 0
    accepted: int = 0
    cost_usd: float = 0.0
    tasks: set[str] = field(default_factory=set)
    tasks_accepted: set[str] = field(default_factory=set)

    def add(self, task_id: str, cost_usd: float, verdict: str) -> None:
        self.samples += 1
        self.cost_usd += cost_usd
        self.tasks.add(task_id)
        if verdict in JUDGED:
            self.judged += 1
        if verdict == PASS:
            self.accepted += 1
            self.tasks_accepted.add(task_id)

    def row(self) -> dict[str, Any]:
        tasks = len(self.tasks)
        return {
            "samples": self.samples,
            "judged": self.judged,
            "accepted": self.accepted,
            "cost_usd": self.cost_usd,
            "tasks": tasks,
            "tasks_accepted": len(self.tasks_accepted),
            "samples_per_task": self.samples / tasks if tasks else 0.0,
            "accepted_per_task": self.accepted / tasks if tasks else 0.0,
            "usd_per_accepted": self.cost_usd / self.accepted if self.accepted else None,
        }


class Spend:
    """The accumulator: `add` one sample at a time, then `result()`."""

    def __init__(self) -> None:
        self.all = Tally()
        self.teacher: dict[str, Tally] = {}
        self.kind: dict[str, Tally] = {}
        self.teacher_kind: dict[tuple[str, str], Tally] = {}

    def add(self, task_id: str, teacher: str, kind: str, cost_usd: float, verdict: str) -> None:
        for tally in (
            self.all,
            _get(self.teacher, teacher),
            _get(self.kind, kind),
            _get(self.teacher_kind, (teacher, kind)),
        ):
            tally.add(task_id, cost_usd, verdict)

    def result(self) -> dict[str, Any]:
        nested: dict[str, dict[str, Any]] = {}
        for (teacher, kind), tally in sorted(self.teacher_kind.items()):
            nested.setdefault(teacher, {})[kind] = tally.row()
        return {
            "all": self.all.row(),
            "teacher": {k: t.row() for k, t in sorted(self.teacher.items())},
            "kind": {k: t.row() for k, t in sorted(self.kind.items())},
            "teacher_kind": nested,
        }


def cost_per_accepted(graded_path: str | Path, kinds: dict[str, str]) -> dict[str, Any]:
    """The figures over `graded_path` in one streaming pass; {} when the file is not there.
    `kinds` maps task id → kind; a task it does not name is "unknown"."""
    path = Path(graded_path)
    if not path.exists():
        return {}
    spend = Spend()
    for s in iter_samples(path):
        verdict = s.verdict.status if s.verdict is not None else ""
        spend.add(s.task_id, s.teacher, kinds.get(s.task_id, "unknown"), s.cost_usd, verdict)
    return spend.result()


def _get(tallies: dict[K, Tally], key: K) -> Tally:
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = Tally()
    return tally


# What ended an adaptive task's sampling (the harvest summary's per-teacher counts).
OUTCOMES = ("saturated", "gave_up", "exhausted", "ungradeable", "stalled", "waiting")
# per_task's rows as a table (status, report, the harvest summary)
ADAPTIVE_COLUMNS = ("teacher", "tasks", "sent / task", "accepted / task", "saturated", "gave up",
                    "exhausted", "ungradeable", "stalled", "waiting")  # fmt: skip


def per_task(adaptive: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The harvest summary's `adaptive` figures (teacher → tasks, samples, accepted and tasks by
    outcome), one row a teacher, with samples sent and accepted per task."""
    rows = []
    for teacher, figures in sorted(adaptive.items()):
        tasks = int(figures.get("tasks", 0))
        samples, accepted = int(figures.get("samples", 0)), int(figures.get("accepted", 0))
        rows.append({
            "teacher": teacher,
            "tasks": tasks,
            "samples": samples,
            "accepted": accepted,
            "samples_per_task": samples / tasks if tasks else 0.0,
            "accepted_per_task": accepted / tasks if tasks else 0.0,
            **{outcome: int(figures.get(outcome, 0)) for outcome in OUTCOMES},
        })  # fmt: skip
    return rows

"""distill.spend: what an accepted sample cost, per teacher, kind and both, from graded.jsonl.
Costs are binary fractions, so every figure is exact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factories import graded_row, write_jsonl

from distill.spend import OUTCOMES, cost_per_accepted, per_task

A, B, C = {"id": "a", "prompt": "q"}, {"id": "b", "prompt": "q"}, {"id": "c", "prompt": "q"}
KINDS = {"a": "math", "b": "code"}  # c is not named: "unknown"


def _graded(tmp_path: Path) -> Path:
    error = graded_row(B, 2, "fail", status="error", cost_usd=0.0, error={"kind": "timeout"})
    del error["verdict"]  # a harvest error: sent, never judged
    rows: list[dict[str, Any]] = [
        graded_row(A, 0, "pass", cost_usd=0.5),
        graded_row(A, 1, "fail", cost_usd=0.25),
        graded_row(B, 0, "fail", cost_usd=0.25),
        graded_row(B, 1, "suspect", cost_usd=0.25),
        error,
        graded_row(C, 0, "pass", cost_usd=0.5),
        graded_row(A, 0, "fail", teacher="mini", cost_usd=0.125),
        graded_row(B, 0, "ungradeable", teacher="mini", cost_usd=0.125),
    ]
    return write_jsonl(tmp_path / "graded.jsonl", rows)


def _row(samples: int, judged: int, accepted: int, cost: float, tasks: int, tasks_accepted: int,
         usd: float | None) -> dict[str, Any]:  # fmt: skip
    return {
        "samples": samples,
        "judged": judged,
        "accepted": accepted,
        "cost_usd": cost,
        "tasks": tasks,
        "tasks_accepted": tasks_accepted,
        "samples_per_task": samples / tasks,
        "accepted_per_task": accepted / tasks,
        "usd_per_accepted": usd,
    }


def test_cost_per_accepted_sample_by_teacher_kind_and_both(tmp_path: Path) -> None:
    spend = cost_per_accepted(_graded(tmp_path), KINDS)
    assert spend["all"] == _row(8, 6, 2, 2.0, 3, 2, 1.0)
    assert spend["teacher"] == {
        "r1": _row(6, 5, 2, 1.75, 3, 2, 0.875),
        "mini": _row(2, 1, 0, 0.25, 2, 0, None),  # nothing accepted: None, not a division by 0
    }
    assert spend["kind"] == {
        "math": _row(3, 3, 1, 0.875, 1, 1, 0.875),
        "code": _row(4, 2, 0, 0.625, 1, 0, None),
        "unknown": _row(1, 1, 1, 0.5, 1, 1, 0.5),
    }
    assert spend["teacher_kind"]["r1"] == {
        "code": _row(3, 2, 0, 0.5, 1, 0, None),
        "math": _row(2, 2, 1, 0.75, 1, 1, 0.75),
        "unknown": _row(1, 1, 1, 0.5, 1, 1, 0.5),
    }
    assert spend["teacher_kind"]["mini"] == {
        "code": _row(1, 0, 0, 0.125, 1, 0, None),
        "math": _row(1, 1, 0, 0.125, 1, 0, None),
    }
    assert json.loads(json.dumps(spend)) == spend  # it goes into history.jsonl as it is


def test_no_graded_file_is_no_figures(tmp_path: Path) -> None:
    assert cost_per_accepted(tmp_path / "graded.jsonl", {}) == {}


def test_per_task_rows_of_the_harvest_summary() -> None:
    figures = {"r1": {"tasks": 4, "samples": 10, "accepted": 3, "saturated": 2, "gave_up": 1,
                      "exhausted": 1}, "idle": {"tasks": 0}}  # fmt: skip
    rows = per_task(figures)
    assert [r["teacher"] for r in rows] == ["idle", "r1"]
    idle, r1 = rows
    assert idle["samples_per_task"] == idle["accepted_per_task"] == 0.0
    assert (r1["samples_per_task"], r1["accepted_per_task"]) == (2.5, 0.75)
    assert [r1[o] for o in OUTCOMES] == [2, 1, 1, 0, 0, 0]  # a count left out is 0

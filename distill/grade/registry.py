"""GRADERS: grader name → (version, pure function of (task, sample, options) → Verdict).

Graders are plain module-level functions so they pickle into worker processes (and, later, Ray).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distill.grade import answer, code, merge, well_formed
from distill.records import Sample, Task, Verdict

GradeFn = Callable[[Task, Sample, dict[str, Any]], Verdict]
InputsFn = Callable[[Task], dict[str, Any]]


def no_task_inputs(task: Task) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Grader:
    name: str
    version: str
    fn: GradeFn
    # What the grader reads of a task beyond its reference and kind (meta fields, the prompt):
    # part of the verdict key, so changing them grades again.
    inputs: InputsFn = no_task_inputs


GRADERS: dict[str, Grader] = {
    module.NAME: Grader(
        module.NAME, module.VERSION, module.grade, getattr(module, "task_inputs", no_task_inputs)
    )
    for module in (answer, code, merge, well_formed)
}

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


@dataclass(frozen=True)
class Grader:
    name: str
    version: str
    fn: GradeFn


GRADERS: dict[str, Grader] = {
    module.NAME: Grader(module.NAME, module.VERSION, module.grade)
    for module in (answer, code, merge, well_formed)
}

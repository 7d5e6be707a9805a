"""Grade: attach a verdict (pass | fail | error | ungradeable | suspect) to every sample.

The registry and runner load on first use of their names, so `import distill.grade.sandbox`
loads no grader it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distill.grade.registry import GRADERS
    from distill.grade.runner import GradeResult, run_grade

_LAZY = {
    "GRADERS": "distill.grade.registry",
    "GradeResult": "distill.grade.runner",
    "run_grade": "distill.grade.runner",
}

__all__ = ["GRADERS", "GradeResult", "run_grade"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)

"""Grade: attach a verdict (pass | fail | error | ungradeable | suspect) to every sample."""

from distill.grade.registry import GRADERS
from distill.grade.runner import GradeResult, run_grade

__all__ = ["GRADERS", "GradeResult", "run_grade"]

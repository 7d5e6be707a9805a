"""For tasks with no checkable answer (plain instructions): pass a complete, non-empty answer.

It verifies form, not truth, and says so in the reason (`unverified`), so a user who needs more
can route chat tasks to a stricter grader.
"""

from __future__ import annotations

from typing import Any

from distill.records import Sample, Task, Verdict

NAME = "well_formed"
VERSION = "1"


def grade(task: Task, sample: Sample, options: dict[str, Any]) -> Verdict:
    min_chars = int(options.get("min_chars", 1))
    text = sample.content.strip()
    if "<think>" in text or "</think>" in text:
        return Verdict(NAME, VERSION, "fail", reason="reasoning_in_answer")
    if len(text) < min_chars:
        return Verdict(NAME, VERSION, "fail", reason="too_short", details={"chars": len(text)})
    return Verdict(
        NAME, VERSION, "pass", score=1.0, reason="unverified", details={"chars": len(text)}
    )

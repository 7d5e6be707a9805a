"""Merge-conflict resolutions: compare the answer's code block with the committed resolution.

Classes, in order: exact; whitespace (equal token for token, and for indentation languages at
the same nesting); abstained (the conflict returned unchanged); markers_left; comments (equal
once comments are removed, language-aware so `//` inside a string survives); incorrect;
no_block. Which classes pass is configurable (`pass_classes`); the default passes exact and
whitespace.
"""

from __future__ import annotations

import re
from typing import Any

from distill.grade.comments import strip_comments
from distill.records import Sample, Task, Verdict

NAME = "merge"
VERSION = "3"

_FENCE = re.compile(r"^```[^\n`]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_MARKERS = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(\s|$)", re.MULTILINE)


def last_code_block(text: str) -> str | None:
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else None


def _lines(text: str) -> str:
    rows = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(rows).strip("\n")


_TOKEN = re.compile(r"\w+|[^\w\s]")
INDENT_SENSITIVE = frozenset({"python", "py", "yaml", "yml", "haskell", "nim"})


def _collapsed(text: str, language: str) -> tuple[list[str], list[int]]:
    """Tokens with all layout removed ("if i" stays two tokens, "f( x)" equals "f(x)"), plus,
    for indentation-sensitive languages, each line's indentation level (re-indenting is fine,
    changing the nesting is not)."""
    tokens = _TOKEN.findall(text)
    if language.lower() not in INDENT_SENSITIVE:
        return tokens, []
    widths = [
        len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        for line in text.splitlines()
        if line.strip()
    ]
    rank = {width: i for i, width in enumerate(sorted(set(widths)))}
    return tokens, [rank[w] for w in widths]


def classify(answer: str, resolution: str, conflict: str, language: str = "") -> str:
    if _lines(answer) == _lines(resolution):
        return "exact"
    if _collapsed(answer, language) == _collapsed(resolution, language):
        return "whitespace"
    if conflict and _lines(answer) == _lines(conflict):
        return "abstained"
    if _MARKERS.search(answer):
        return "markers_left"
    bare_answer, bare_resolution = (
        strip_comments(answer, language),
        strip_comments(resolution, language),
    )
    if (
        bare_answer is not None
        and bare_resolution is not None
        and _collapsed(bare_answer, language) == _collapsed(bare_resolution, language)
    ):
        return "comments"
    return "incorrect"


def grade(task: Task, sample: Sample, options: dict[str, Any]) -> Verdict:
    resolution = task.reference.get("resolution")
    if not isinstance(resolution, str) or not resolution.strip():
        return Verdict(NAME, VERSION, "ungradeable", reason="no_reference_resolution")
    block = last_code_block(sample.content)
    if block is None:
        return Verdict(NAME, VERSION, "fail", reason="no_block")
    conflict = str(task.reference.get("conflict") or task.prompt or "")
    language = str(task.reference.get("language") or task.meta.get("language") or "")
    verdict_class = classify(block, resolution, conflict, language)
    passing = set(options.get("pass_classes", ("exact", "whitespace")))
    status = "pass" if verdict_class in passing else "fail"
    return Verdict(
        NAME,
        VERSION,
        status,
        score=1.0 if status == "pass" else 0.0,
        reason=verdict_class,
        details={"class": verdict_class, "pass_classes": sorted(passing)},
    )

"""Merge-conflict resolutions: compare the answer's code block with the committed resolution.

Classes, in order: exact; whitespace (equal token for token, and for indentation languages at
the same nesting); abstained (the conflict returned unchanged); markers_left; comments (equal
once comments are removed, language-aware so `//` inside a string survives); incorrect;
no_block. Which classes pass is configurable (`pass_classes`); the default passes exact and
whitespace.

The block is read as CommonMark reads fences: ``` or ~~~, three or more, indented at most three
spaces; it closes only at a line of the same character, at least as long, so a Markdown
resolution with inner ``` lines arrives whole inside a ```` or ~~~ fence. A fence never closed
(a truncated answer) is no block. Lines end at `\n` only. A marker-like line counts as a left
marker only when the resolution has no such line (an RST underline of seven `=` is text).
"""

from __future__ import annotations

import re
from typing import Any

from distill.grade.comments import strip_comments
from distill.records import Sample, Task, Verdict

NAME = "merge"
VERSION = "4"


def task_inputs(task: Task) -> dict[str, Any]:
    """What grading reads of a task beside its reference (part of the verdict key)."""
    inputs: dict[str, Any] = {}
    if not task.reference.get("language") and task.meta.get("language"):
        inputs["language"] = task.meta["language"]
    if not task.reference.get("conflict") and task.prompt:
        inputs["prompt"] = task.prompt
    return inputs


_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_MARKER = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(\s|$)")


def code_blocks(text: str) -> list[str]:
    """The closed fenced code blocks of a Markdown text, in order."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        opened = _OPEN.match(lines[i])
        if opened is None or (opened[2][0] == "`" and "`" in opened[3]):
            i += 1  # a backtick fence's info string has no backtick (else it is inline code)
            continue
        indent, fence = len(opened[1]), opened[2]
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), None)
        if end is None:
            break  # never closed: the answer was cut off
        body = [_dedent(line, indent) for line in lines[i + 1 : end]]
        blocks.append("".join(line + "\n" for line in body))
        i = end + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """A fence indented N spaces takes up to N spaces off each of its lines."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def last_code_block(text: str) -> str | None:
    blocks = code_blocks(text)
    return blocks[-1] if blocks else None


def _markers_left(answer: str, resolution: str) -> bool:
    own = {line.rstrip() for line in resolution.split("\n")}
    return any(_MARKER.match(line) and line.rstrip() not in own for line in answer.split("\n"))


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
        for line in text.split("\n")
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
    if _markers_left(answer, resolution):
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

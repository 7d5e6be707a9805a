"""Show a code task's public tests in a prompt: `assert` statements or numbered examples.

Only public tests are ever shown; hidden tests stay hidden so that hack detection keeps working.
"""

from __future__ import annotations

import json
from typing import Any

from distill.grade.code_tests import CodeTest, UngradeableReference, parse_tests
from distill.records import Task

FORMATS = ("assert", "numbered")


def render_tests(task: Task, style: str, header: str = "{tests}") -> str:
    """The task's public tests in `style`, wrapped in `header` (a `{tests}` template)."""
    if style not in FORMATS:
        raise ValueError(f"unknown test format {style!r}; known: {', '.join(FORMATS)}")
    try:
        suite = parse_tests(task.reference)
    except UngradeableReference:
        return ""
    if not suite.public:
        return ""
    render = _as_assert if style == "assert" else _numbered
    body = "\n".join(render(i, case, suite.fn_name) for i, case in enumerate(suite.public, 1))
    return header.replace("{tests}", body.rstrip("\n"))


def _as_assert(index: int, case: CodeTest, fn_name: str | None) -> str:
    if case.kind == "assert":
        return str(case.input)
    if case.kind == "call":
        args = ", ".join(_literal(a) for a in case.input)
        return f"assert {fn_name or 'solution'}({args}) == {_literal(case.output)}"
    return f"assert run(stdin={str(case.input)!r}) == {str(case.output)!r}"


def _numbered(index: int, case: CodeTest, fn_name: str | None) -> str:
    if case.kind == "assert":
        return f"Test {index}: {case.input}\n"
    if case.kind == "call":
        args = ", ".join(_literal(a) for a in case.input)
        call = f"{fn_name or 'solution'}({args})"
        return f"Test {index}:\nCall: {call}\nReturns: {_literal(case.output)}\n"
    return f"Test {index}:\nInput:\n{_block(case.input)}Expected output:\n{_block(case.output)}"


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def _block(value: Any) -> str:
    text = str(value)
    return text if text.endswith("\n") else text + "\n"

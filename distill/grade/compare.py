"""Comparing a program's output with the expected one. Never an unordered-token match.

Modes (per task, recorded in the verdict): `exact_lines` (the default: trailing whitespace on
each line and trailing blank lines ignored, the line count must match), `float` (tokens compared
in order, numbers within `rel_tol`/`abs_tol`), `case_insensitive` (exact_lines ignoring case),
and `checker` (a checker program judges; run by the code grader, not here).
"""

from __future__ import annotations

import math
from typing import Any

MODES = ("exact_lines", "float", "case_insensitive", "checker")


def _lines(text: str) -> list[str]:
    rows = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while rows and rows[-1] == "":
        rows.pop()
    return rows


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def outputs_match(actual: str, expected: str, spec: dict[str, Any]) -> bool:
    mode = spec.get("mode", "exact_lines")
    got, want = _lines(actual), _lines(expected)
    if mode == "exact_lines":
        return got == want
    if mode == "case_insensitive":
        return [g.lower() for g in got] == [w.lower() for w in want]
    if mode == "float":
        rel, absolute = float(spec.get("rel_tol", 1e-6)), float(spec.get("abs_tol", 1e-9))
        if len(got) != len(want):
            return False
        for g_line, w_line in zip(got, want, strict=True):
            g_tokens, w_tokens = g_line.split(), w_line.split()
            if len(g_tokens) != len(w_tokens):
                return False
            for g, w in zip(g_tokens, w_tokens, strict=True):
                gn, wn = _number(g), _number(w)
                if gn is not None and wn is not None:
                    if not _close(gn, wn, rel, absolute):
                        return False
                elif g != w:
                    return False
        return True
    raise ValueError(f"unknown comparison mode {mode!r}; known: {', '.join(MODES)}")


def values_match(actual: Any, expected: Any, spec: dict[str, Any]) -> bool:
    """Call-based results, both decoded from JSON (so no object can fake equality)."""
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(actual, bool) or isinstance(expected, bool):
            return actual is expected
        if isinstance(actual, int | float) and isinstance(expected, int | float):
            rel, absolute = float(spec.get("rel_tol", 1e-6)), float(spec.get("abs_tol", 1e-9))
            return _close(float(actual), float(expected), rel, absolute)
        return False
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(
            values_match(a, e, spec) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(
            values_match(actual[k], expected[k], spec) for k in expected
        )
    return type(actual) is type(expected) and actual == expected

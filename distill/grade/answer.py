"""Answer matching for math and short answers: extract the final answer, normalise, compare.

Extraction looks at the answer part only (never the reasoning): the last `\\boxed{}` first, then
the last "answer:" / "the answer is" anchor, then the last number. Comparison is exact after
normalisation, else numeric (integers, decimals, fractions, `\\frac{a}{b}`) with a relative
tolerance. Issue 4 adds math-verify for symbolic equivalence behind this same interface.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from distill.records import Sample, Task, Verdict

NAME = "answer"
VERSION = "1"

_ANCHOR = re.compile(r"\b(?:final answer|answer)\b\W{0,4}?\s*(?:is)?\s*:?\**\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}$")


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def extract_answer(content: str) -> tuple[str | None, str]:
    boxed = last_boxed(content)
    if boxed is not None:
        return boxed, "boxed"
    anchors = _ANCHOR.findall(content)
    if anchors:
        return anchors[-1].strip().splitlines()[0], "anchor"
    numbers = _NUMBER.findall(content)
    if numbers:
        return numbers[-1], "last_number"
    return None, "none"


def normalise(answer: str) -> str:
    text = answer.strip()
    for _ in range(2):  # "**$42$.**": markdown, math delimiters and a full stop, in any order
        text = text.strip("*").rstrip(".").strip().strip("$").strip()
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", text)
    text = text.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = re.sub(r"\s+", "", text)
    text = text.rstrip(".")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    return text.lower()


def as_number(text: str) -> Fraction | None:
    match = _FRAC.match(text)
    if match:
        sign, num, den = match.groups()
        try:
            value = Fraction(num) / Fraction(den)
        except (ValueError, ZeroDivisionError):
            return None
        return -value if sign else value
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def equivalent(predicted: str, expected: str, rel_tol: float) -> tuple[bool, str]:
    a, b = normalise(predicted), normalise(expected)
    if a == b:
        return True, "exact"
    x, y = as_number(a), as_number(b)
    if x is not None and y is not None:
        if x == y:
            return True, "numeric"
        if abs(float(x) - float(y)) <= rel_tol * max(abs(float(y)), 1e-12):
            return True, "numeric_tolerance"
        return False, "numeric"
    return False, "string"


def grade(task: Task, sample: Sample, options: dict[str, Any]) -> Verdict:
    expected = task.reference.get("answer")
    if not isinstance(expected, str | int | float) or str(expected).strip() == "":
        return Verdict(NAME, VERSION, "ungradeable", reason="no_reference_answer")
    predicted, method = extract_answer(sample.content)
    details: dict[str, Any] = {"expected": str(expected), "extraction": method}
    if predicted is None:
        return Verdict(NAME, VERSION, "fail", reason="no_answer", details=details)
    details["extracted"] = predicted
    ok, rule = equivalent(predicted, str(expected), float(options.get("rel_tol", 1e-6)))
    details["rule"] = rule
    if ok:
        return Verdict(NAME, VERSION, "pass", score=1.0, reason=rule, details=details)
    return Verdict(NAME, VERSION, "fail", reason="wrong_answer", details=details)

"""Answer matching for math, numeric, multiple-choice and short answers.

Only `sample.content` (the answer, reasoning split off) is graded. The rule comes from the `mode`
option, else `task.meta["answer_type"]`, else is inferred from the reference: a letter with
`choices` present is `choice`, a number `numeric`, LaTeX or an expression `math`, words `short`.

math / numeric: the answer is found by `answer_extract` (every `\\boxed{}`; else the last answer
phrase that names an answer; else the last of a bare final line, a whole math span and a number
standing as a word; `details["extraction"]`). Several different boxes are ambiguous, unless they
stand side by side and the reference is a set or list: then they compare as a set. Units
(`answer_numbers.split_unit`) must be the reference's; one the reference lacks is dropped unless
`units = "strict"`. Fast paths settle most answers without sympy, right or wrong: `exact` (equal
after LaTeX clean-up), `numeric` (both plain numbers; an integer reference compares exactly) and
`numeric_eval` (both exact numbers such as `2\\sqrt{5}` or sets of them, at 120 digits). An
equation whose left side is an expression in unknowns (`x^2 = 9`) is not its right side. The rest
goes to math-verify (`math_equiv`: a worker process started on first use, a hard timeout, guards
against its known false positives).

Verdicts: pass (reason = the rule); fail `no_answer` | `wrong_answer` | `ambiguous_answer` |
`ambiguous_choice` | `invalid_choice`; ungradeable `no_reference_answer` |
`unparseable_reference`; error `math_verify_timeout` | `math_verify_crashed` (the grader failed,
not the answer). `details` holds `mode`, `rule`, `expected`, `extracted`, `extraction`, `time_s`,
and, where they apply, `guard`, `parsed_gold`, `parsed_pred`, `lenient`, `unit` and `error`.

Options (all optional):
- `mode`: "auto" (default) | "math" | "numeric" | "choice" | "short".
- `rel_tol` (1e-6) and `abs_tol` (1e-9): numeric tolerance, |a-b| <= max(rel_tol*max(|a|,|b|),
  abs_tol); `abs_tol` is what lets an answer near 0 pass. An integer reference gets `abs_tol` only.
- `percent`: "strip" (default: `50%` is 50) | "either" (`50%` may also be 0.5, and the verdict
  says `lenient`; plain numbers only).
- `timeout_s` (5.0): wall-clock limit for one math-verify comparison.
- `units`: "drop" (default: a unit the reference does not have is dropped) | "strict" (it fails).
- `choices`: the valid letters ("ABCD" or a list), default the task's `reference["choices"]`
  (letters, letter → text, or option texts lettered in order), else A–J.
Short answers also accept `reference["aliases"]` (a list of strings).
"""

from __future__ import annotations

import re
import time
from typing import Any

from distill.grade import math_equiv
from distill.grade.answer_choice import gold_letter, grade_choice, valid_letters
from distill.grade.answer_exact import exact_gap
from distill.grade.answer_extract import Extracted, extract_math
from distill.grade.answer_numbers import (
    canonical,
    normalise,
    numbers_match,
    split_unit,
    strip_percent,
    to_number,
)
from distill.grade.short_answer import grade_short
from distill.records import Sample, Task, Verdict

NAME = "answer"
VERSION = "3"


def task_inputs(task: Task) -> dict[str, Any]:
    """What grading reads of a task beside its reference (part of the verdict key)."""
    declared = task.meta.get("answer_type")
    return {} if declared is None else {"answer_type": declared}


MODES = ("auto", "math", "numeric", "choice", "short")
PERCENT = ("strip", "either")
UNITS = ("drop", "strict")
MAX_ITEMS = 20  # items of a set answer compared pairwise

_Outcome = tuple[str, str, dict[str, Any]]  # status, reason, details

_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_MATHY = re.compile(r"[\\^_=+*/<>{}()\[\]|\d]")


def grade(task: Task, sample: Sample, options: dict[str, Any]) -> Verdict:
    started = time.perf_counter()
    opts = _checked(options)
    expected = task.reference.get("answer")
    if isinstance(expected, bool) or not isinstance(expected, str | int | float):
        return _verdict("ungradeable", "no_reference_answer", {}, started)
    gold = str(expected).strip()
    if not gold:
        return _verdict("ungradeable", "no_reference_answer", {}, started)
    mode = _mode(task, gold, opts)
    details: dict[str, Any] = {"mode": mode, "expected": gold}
    if mode == "choice":
        valid = valid_letters(task.reference, opts)
        letter = gold_letter(expected, task.reference)
        if letter is None or letter not in valid:
            return _verdict("ungradeable", "unparseable_reference", details, started)
        status, reason, more = grade_choice(sample.content, letter, valid)
    elif mode == "short":
        aliases = task.reference.get("aliases")
        golds = [gold] + ([str(a) for a in aliases] if isinstance(aliases, list) else [])
        status, reason, more = grade_short(sample.content, golds)
    else:
        status, reason, more = _grade_math(sample.content, gold, mode == "numeric", opts)
    return _verdict(status, reason, details | more, started)


def _verdict(status: str, reason: str, details: dict[str, Any], started: float) -> Verdict:
    details["time_s"] = round(time.perf_counter() - started, 6)
    score = 1.0 if status == "pass" else 0.0
    return Verdict(NAME, VERSION, status, score=score, reason=reason, details=details)


def _checked(options: dict[str, Any]) -> dict[str, Any]:
    """Options with defaults filled in; a bad value raises (the runner reports it as `error`)."""
    opts: dict[str, Any] = {
        "mode": "auto",
        "rel_tol": 1e-6,
        "abs_tol": 1e-9,
        "percent": "strip",
        "timeout_s": 5.0,
        "units": "drop",
    }
    unknown = sorted(set(options) - set(opts) - {"choices"})
    if unknown:  # a typo must not silently grade with the defaults
        raise ValueError(f"answer grader: unknown option(s) {', '.join(unknown)}")
    opts |= options
    if opts["mode"] not in MODES:
        raise ValueError(f"answer grader: mode {opts['mode']!r} is not one of {', '.join(MODES)}")
    if opts["units"] not in UNITS:
        raise ValueError(f"answer grader: units {opts['units']!r} is not one of {UNITS}")
    if opts["percent"] not in PERCENT:
        raise ValueError(f"answer grader: percent {opts['percent']!r} is not one of {PERCENT}")
    for key in ("rel_tol", "abs_tol", "timeout_s"):
        if isinstance(opts[key], bool) or not isinstance(opts[key], int | float) or opts[key] < 0:
            raise ValueError(f"answer grader: {key} must be a number >= 0, got {opts[key]!r}")
    return opts


def _mode(task: Task, gold: str, opts: dict[str, Any]) -> str:
    if opts["mode"] != "auto":
        return str(opts["mode"])
    declared = task.meta.get("answer_type")
    if declared in MODES and declared != "auto":
        return str(declared)
    has_choices = bool(task.reference.get("choices") or opts.get("choices"))
    if has_choices and re.fullmatch(r"[(\[]?[A-J][)\]]?", gold):
        return "choice"
    if to_number(normalise(gold)) is not None:
        return "numeric"
    plain = _TEXT_WRAP.sub(r"\1", gold)
    if _MATHY.search(plain) or re.fullmatch(r"[A-Za-z]", plain.strip()):
        return "math"
    return "short"


# --- math and numeric ---------------------------------------------------------------------------


def _grade_math(content: str, gold_text: str, numeric: bool, opts: dict[str, Any]) -> _Outcome:
    gold = normalise(gold_text)
    if numeric and to_number(gold) is None:
        return "ungradeable", "unparseable_reference", {}
    found = extract_math(content)
    details: dict[str, Any] = {"extraction": found.how}
    preds = [p for p in (normalise(v) for v in found.values) if p]
    if not preds:
        return "fail", "no_answer", details
    details["extracted"] = found.text
    if len(preds) == 1:
        return _compare(gold, preds[0], opts, details)
    return _several(gold, preds, found, opts, details)


def _several(
    gold: str, preds: list[str], found: Extracted, opts: dict[str, Any], details: dict[str, Any]
) -> _Outcome:
    """Several boxed values: a set when side by side and the reference is one, else each alone."""
    items = _set_items(gold)
    if items is not None and found.side_by_side:
        return _compare_sets(items, preds[:MAX_ITEMS], opts, details)
    outcomes = [_compare(gold, pred, opts, dict(details)) for pred in preds[:MAX_ITEMS]]
    for outcome in outcomes:
        if outcome[0] not in ("pass", "fail"):
            return outcome  # the grader failed on one of them: no verdict
    if all(status == "pass" for status, _, _ in outcomes):
        return outcomes[-1]  # the same value written twice
    details["rule"] = "several_answers"
    if any(status == "pass" for status, _, _ in outcomes):
        return "fail", "ambiguous_answer", details
    return "fail", "wrong_answer", details


def _set_items(gold: str) -> list[str] | None:
    """The items of a set or list reference (`\\{1, 2, 3\\}`, `1, 2, 3`), else None."""
    inner = gold[2:-2] if gold.startswith("\\{") and gold.endswith("\\}") else gold
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += (char in "({[") - (char in ")}]")
        if char == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts if len(parts) > 1 and all(parts) else None


def _compare_sets(
    golds: list[str], preds: list[str], opts: dict[str, Any], details: dict[str, Any]
) -> _Outcome:
    """Equal as sets: every item on each side equals one on the other."""
    equal: dict[tuple[int, int], bool] = {}
    for i, gold in enumerate(golds):
        for j, pred in enumerate(preds):
            outcome = _compare(gold, pred, opts, {})
            if outcome[0] not in ("pass", "fail"):
                return outcome[0], outcome[1], details | outcome[2]
            equal[i, j] = outcome[0] == "pass"
    covered = all(any(equal[i, j] for j in range(len(preds))) for i in range(len(golds))) and all(
        any(equal[i, j] for i in range(len(golds))) for j in range(len(preds))
    )
    return _decided(covered, "set", details)


def _compare(gold: str, pred: str, opts: dict[str, Any], details: dict[str, Any]) -> _Outcome:
    """One normalised answer against one normalised reference."""
    if canonical(pred) == canonical(gold):
        return _decided(True, "exact", details)
    (gold, gold_unit), (pred, pred_unit) = split_unit(gold), split_unit(pred)
    # the reference's own unit is dropped; one it does not have only if the options allow
    if pred_unit not in (None, gold_unit) and (gold_unit is not None or opts["units"] == "strict"):
        details |= {"unit": pred_unit, "expected_unit": gold_unit}
        return _decided(False, "unit", details)
    gold_number, pred_number = to_number(gold), to_number(pred)
    if gold_number is not None and pred_number is not None:
        ok, lenient = numbers_match(gold_number, pred_number, opts)
        if lenient:
            details["lenient"] = True
        return _decided(ok, "numeric", details)
    if canonical(pred) == canonical(gold):
        return _decided(True, "exact", details)
    if _top_equals(pred) and not _top_equals(gold):
        side = _right_side(pred)
        if side is None:  # `x^2 = 9` is an equation, not the answer 9
            return _decided(False, "equation", details)
        pred = side
    exact = exact_gap(strip_percent(gold), strip_percent(pred))
    if exact is not None:
        details |= {"parsed_gold": exact[1], "parsed_pred": exact[2]}
        return _decided(exact[0], "numeric_eval", details)
    result = math_equiv.compare(
        strip_percent(gold),
        strip_percent(pred),
        timeout_s=float(opts["timeout_s"]),
        rel_tol=float(opts["rel_tol"]),
    )
    details |= {"rule": result.rule, "parsed_gold": result.gold, "parsed_pred": result.pred}
    if result.error:
        details["error"] = result.error
    if result.outcome == "timeout":
        return "error", "math_verify_timeout", details
    if result.outcome == "crashed":
        return "error", "math_verify_crashed", details
    if result.outcome == "unparseable_gold":
        return "ungradeable", "unparseable_reference", details
    if result.guard:
        details |= {"rule": "math_verify_guard", "guard": result.guard}
    return _decided(result.outcome == "equal", details["rule"], details)


def _top_equals(text: str) -> list[int]:
    """Where `=` stands outside braces and brackets (`\\sum_{n=1}` has none)."""
    places, depth = [], 0
    for i, char in enumerate(text):
        depth += (char in "({[") - (char in ")}]")
        if char == "=" and depth == 0:
            places.append(i)
    return places


def _right_side(equation: str) -> str | None:
    """The value of `x = 5`, `f(2) = 5`, `2 + 3 = 5`: the right side when the left names or
    computes it; None for an equation whose left side is an expression in unknowns (`x^2 = 9`),
    an inequality, or a chain."""
    places = _top_equals(equation)
    left, right = equation[: places[0]].strip(), equation[places[-1] + 1 :].strip()
    if len(places) > 1 or not right or re.search(r"[<>!]$|\\(?:le|ge|ne|approx)\b", left):
        return None
    named = re.fullmatch(r"[A-Za-z](?:_\{?\w+\}?)?(?:\([^()]*\))?|\\[A-Za-z]+", left)
    return right if named or not re.search(r"[A-Za-z]", left) else None


def _decided(ok: bool, rule: str, details: dict[str, Any]) -> _Outcome:
    details["rule"] = rule
    return ("pass", rule, details) if ok else ("fail", "wrong_answer", details)

"""Answer matching for math, numeric, multiple-choice and short answers.

Only `sample.content` (the answer, reasoning split off) is graded. The rule comes from the `mode`
option, else `task.meta["answer_type"]`, else is inferred from the reference: a letter with
`choices` present is `choice`, a number `numeric`, LaTeX or an expression `math`, words `short`.

math / numeric: the answer is the last `\\boxed{}`/`\\fbox{}`, else what follows the last
"answer is" / "answer:", else the last number (`details["extraction"]`). Fast paths settle most
answers without sympy, right or wrong: `exact` (equal after LaTeX clean-up), `numeric` (both
plain numbers: integers, decimals, thousands separators, `a/b`, `\\frac{a}{b}`, with `$`, `%`,
degrees and unit words stripped) and `numeric_eval` (both exact numbers such as `2\\sqrt{5}` or
sets of them, compared at 120 digits). The rest goes to math-verify (`math_equiv`: a worker
process, a hard timeout, guards against its known false positives).

Verdicts: pass (reason = the rule); fail `no_answer` | `wrong_answer` | `ambiguous_choice` |
`invalid_choice`; ungradeable `no_reference_answer` | `unparseable_reference`; error
`math_verify_timeout` | `math_verify_crashed` (the grader failed, not the answer). `details` holds
`mode`, `rule`, `expected`, `extracted`, `extraction`, `time_s`, and, where they apply, `guard`,
`parsed_gold`, `parsed_pred`, `lenient` and `error`.

Options (all optional):
- `mode`: "auto" (default) | "math" | "numeric" | "choice" | "short".
- `rel_tol` (1e-6) and `abs_tol` (1e-9): numeric tolerance, |a-b| <= max(rel_tol*max(|a|,|b|),
  abs_tol); `abs_tol` is what lets an answer near 0 pass.
- `percent`: "strip" (default: `50%` is 50) | "either" (`50%` may also be 0.5, and the verdict
  says `lenient`; plain numbers only).
- `timeout_s` (5.0): wall-clock limit for one math-verify comparison.
- `choices`: the valid letters ("ABCD" or a list), default the task's `reference["choices"]`
  (letters, letter → text, or option texts lettered in order), else A–J.
Short answers also accept `reference["aliases"]` (a list of strings).
"""

from __future__ import annotations

import re
import time
from fractions import Fraction
from typing import Any

from distill.grade import math_equiv
from distill.grade.short_answer import (
    anchor_tail,
    exact_gap,
    gold_letter,
    grade_choice,
    grade_short,
    last_boxed,
    valid_letters,
)
from distill.records import Sample, Task, Verdict

NAME = "answer"
VERSION = "2"

MODES = ("auto", "math", "numeric", "choice", "short")
PERCENT = ("strip", "either")

_Outcome = tuple[str, str, dict[str, Any]]  # status, reason, details

_NUM = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?"
_PLAIN = re.compile(_NUM)
_SLASH = re.compile(rf"({_NUM})\s*/\s*({_NUM})")
_FRAC = re.compile(rf"(-?)\\frac\{{\s*({_NUM})\s*\}}\{{\s*({_NUM})\s*\}}")
_LAST_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|,?\s+(?:because|since|as|which|where|so|given)\b")
_SPACING = re.compile(r"\\[,!;:> ]|\\q?quad\b|\\left\b|\\right\b")
_LETTER_WRAP = re.compile(r"\\(?:mathrm|text|mathit|operatorname)\s*\{\s*([A-Za-z])\s*\}")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_ASSIGNMENT = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*")
_UNITS = re.compile(r"(?:\s*\\(?:text|mbox|mathrm)\s*\{[^{}]*\})+$|\s+[A-Za-z][A-Za-z./ ]*$")
_DEGREES = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°)$")
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
    }
    unknown = sorted(set(options) - set(opts) - {"choices"})
    if unknown:  # a typo must not silently grade with the defaults
        raise ValueError(f"answer grader: unknown option(s) {', '.join(unknown)}")
    opts |= options
    if opts["mode"] not in MODES:
        raise ValueError(f"answer grader: mode {opts['mode']!r} is not one of {', '.join(MODES)}")
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
    gold_number = to_number(gold)
    if numeric and gold_number is None:
        return "ungradeable", "unparseable_reference", {}
    extracted, how = extract_answer(content)
    details: dict[str, Any] = {"extraction": how}
    pred = normalise(extracted or "")
    if not pred:
        return "fail", "no_answer", details
    details["extracted"] = extracted
    if _canonical(pred) == _canonical(gold):
        return _decided(True, "exact", details)
    pred_number = to_number(pred)
    if gold_number is not None and pred_number is not None:
        ok, lenient = _numbers_match(gold_number, pred_number, opts)
        if lenient:
            details["lenient"] = True
        return _decided(ok, "numeric", details)
    exact = exact_gap(_strip_percent(gold), _strip_percent(pred))
    if exact is not None:
        details |= {"parsed_gold": exact[1], "parsed_pred": exact[2]}
        return _decided(exact[0], "numeric_eval", details)
    result = math_equiv.compare(
        _strip_percent(gold),
        _strip_percent(pred),
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


def _decided(ok: bool, rule: str, details: dict[str, Any]) -> _Outcome:
    details["rule"] = rule
    return ("pass", rule, details) if ok else ("fail", "wrong_answer", details)


def extract_answer(content: str) -> tuple[str | None, str]:
    """The final answer in `content` and how it was found: boxed | anchor | last_number | none."""
    boxed = last_boxed(content)
    if boxed is not None and boxed.strip():
        return boxed, "boxed"
    tail = anchor_tail(content)
    if tail is not None:
        span = _MATH_SPAN.search(tail)  # "is $\frac{1}{2}$ since ..." → the formula
        if span:
            return next(g for g in span.groups() if g is not None), "anchor"
        return _SENTENCE_END.split(tail, maxsplit=1)[0], "anchor"
    numbers = _LAST_NUMBER.findall(content)
    if numbers:
        return numbers[-1], "last_number"
    return None, "none"


def normalise(text: str) -> str:
    """LaTeX clean-up shared by both sides: delimiters, markdown, spacing, `\\dfrac`, `\\frac12`."""
    text = text.strip()
    for _ in range(2):  # "**$42$.**": markdown, math delimiters and a full stop, in any order
        text = text.strip("*").rstrip(".").strip().strip("$").strip()
        for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
            if text.startswith(left) and text.endswith(right):
                text = text[2:-2].strip()
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", ",")
    text = _SPACING.sub("", text).replace("−", "-")
    # `\mathrm{e}`: math-verify's unit stripping eats it and then misreads `1 - 1/e` as 1
    text = _LETTER_WRAP.sub(r"\1", text)
    # math-verify runs with malformed_operators off; mend the two unambiguous digit shorthands
    text = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\sqrt\s*(\d)", r"\\sqrt{\1}", text)
    return text.rstrip(".").strip()


def _canonical(text: str) -> str:
    text = re.sub(r"\s+", "", _TEXT_WRAP.sub(r"\1", text))
    return re.sub(r"([\^_])\{(\w)\}", r"\1\2", text)  # x^{2} is x^2 (but x^{10} is not x^10)


def _strip_percent(text: str) -> str:
    return re.sub(r"\s*\\?%$", "", text)


def to_number(text: str) -> tuple[Fraction, bool] | None:
    """(value, was a percentage) for a plain number, or None. `$`, units, degrees, `x =` go."""
    text = _ASSIGNMENT.sub("", text.replace("\\$", "").replace("$", "").strip())
    text = _DEGREES.sub("", _UNITS.sub("", text))
    percent = text.endswith("%")
    if percent:
        text = _strip_percent(text)
    text = text.strip()
    try:
        if _PLAIN.fullmatch(text):
            return Fraction(text.replace(",", "")), percent
        if match := _SLASH.fullmatch(text):
            num, den = match.groups()
            return Fraction(num.replace(",", "")) / Fraction(den.replace(",", "")), percent
        if match := _FRAC.fullmatch(text):
            sign, num, den = match.groups()
            value = Fraction(num.replace(",", "")) / Fraction(den.replace(",", ""))
            return (-value if sign else value), percent
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _numbers_match(
    gold: tuple[Fraction, bool], pred: tuple[Fraction, bool], opts: dict[str, Any]
) -> tuple[bool, bool]:
    """(match, only through the lenient percent reading)."""
    if _close(gold[0], pred[0], opts):
        return True, False
    if opts["percent"] == "either" and (gold[1] or pred[1]):
        golds = [gold[0], gold[0] / 100] if gold[1] else [gold[0]]
        preds = [pred[0], pred[0] / 100] if pred[1] else [pred[0]]
        if any(_close(g, p, opts) for g in golds for p in preds):
            return True, True
    return False, False


def _close(a: Fraction, b: Fraction, opts: dict[str, Any]) -> bool:
    # Fractions throughout: 10**400 would overflow a float
    tolerance = max(Fraction(opts["rel_tol"]) * max(abs(a), abs(b)), Fraction(opts["abs_tol"]))
    return a == b or abs(a - b) <= tolerance

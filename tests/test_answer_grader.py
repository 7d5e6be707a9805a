"""The answer grader: every rule and reason, math-verify's false positives, timeouts, pickling."""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from distill.grade import answer, answer_exact, math_equiv
from distill.records import Sample, Task, Verdict

CHOICES = {"choices": ["A", "B", "C", "D"]}
HEAVY = r"\prod_{n=1}^{10^{6}} (1+\frac{1}{n^2})"  # sympy spends minutes on this


def grade(
    content: str,
    expected: Any,
    *,
    reference: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    reasoning: str = "",
    **options: Any,
) -> Verdict:
    task = Task(
        id="t",
        kind="math",
        prompt="q",
        reference={"answer": expected, **(reference or {})},
        meta=meta or {},
    )
    sample = Sample("t", 0, "sim", "k", [], "ok", reasoning=reasoning, content=content)
    return answer.grade(task, sample, options)


def passes(content: str, expected: Any, **kwargs: Any) -> bool:
    verdict = grade(content, expected, **kwargs)
    assert verdict.status in ("pass", "fail"), verdict
    return verdict.status == "pass"


@pytest.fixture
def fresh_worker() -> Iterator[None]:
    math_equiv.shutdown()
    yield
    math_equiv.shutdown()


# --- interface ----------------------------------------------------------------------------------


def test_name_version_and_pickling() -> None:
    assert answer.NAME == "answer" and answer.VERSION != "1"
    fn = pickle.loads(pickle.dumps(answer.grade))
    assert fn is answer.grade
    verdict = grade(r"\boxed{12}", "12")
    assert pickle.loads(pickle.dumps(verdict)) == verdict
    assert verdict.score == 1.0
    assert {"mode", "rule", "expected", "extracted", "extraction", "time_s"} <= set(verdict.details)


def test_bad_option_raises() -> None:
    with pytest.raises(ValueError, match="mode"):
        grade(r"\boxed{1}", "1", mode="fuzzy")
    with pytest.raises(ValueError, match="rel_tol"):
        grade(r"\boxed{1}", "1", rel_tol="tiny")
    with pytest.raises(ValueError, match="rel_tolerance"):
        grade(r"\boxed{1}", "1", rel_tolerance=0.1)


# --- extraction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "how"),
    [
        (r"First \boxed{42}, then \boxed{\frac{84}{2}}.", "boxed"),  # one value twice
        (r"So \fbox{42}", "boxed"),
        ("**Final Answer:** 42", "anchor"),
        ("The answer is: $42$.", "anchor"),
        ("Answer: 42. Checked against 17.", "anchor"),
        ("The answer is 42 because 6 * 7 = 42 and not 17", "anchor"),
        ("Final Answer: The final answer is $42$. I hope it is correct.", "anchor"),
        ("**Final Answer**\n\n42", "anchor"),
        ("The answer is $\\frac{84}{2}$ since 7 * 6 = 42.", "anchor"),
        ("Adding 40 and 2 gives 42", "last_number"),
    ],
)
def test_extraction_order(content: str, how: str) -> None:
    verdict = grade(content, "42")
    assert verdict.status == "pass", verdict
    assert verdict.details["extraction"] == how


def test_no_answer() -> None:
    verdict = grade("I could not work this out.", "12")
    assert (verdict.status, verdict.reason) == ("fail", "no_answer")
    assert verdict.details["extraction"] == "none"


def test_reasoning_is_never_graded() -> None:
    thinking = r"I first thought \boxed{99}. The answer is 99."
    assert passes(r"\boxed{12}", "12", reasoning=thinking)
    assert not passes(r"\boxed{12}", "99", reasoning=thinking)
    verdict = grade("Not sure.", "99", reasoning=thinking)
    assert (verdict.status, verdict.reason) == ("fail", "no_answer")


# --- reference problems -------------------------------------------------------------------------


@pytest.mark.parametrize("reference", [{}, {"answer": ""}, {"answer": None}, {"answer": True}])
def test_missing_reference_is_ungradeable(reference: dict[str, Any]) -> None:
    task = Task(id="t", kind="math", prompt="q", reference=reference)
    verdict = answer.grade(task, Sample("t", 0, "sim", "k", [], "ok", content="1"), {})
    assert (verdict.status, verdict.reason) == ("ungradeable", "no_reference_answer")


def test_unparseable_reference_is_ungradeable() -> None:
    verdict = grade(r"\boxed{3}", "three apples", mode="numeric")
    assert (verdict.status, verdict.reason) == ("ungradeable", "unparseable_reference")
    # math-verify cuts this gold at `\frac{1}{`: no gold we can trust, so no verdict either way
    verdict = grade(r"\boxed{\frac{1}{2}}", r"\frac{1}{\text{kg}}")
    assert (verdict.status, verdict.reason) == ("ungradeable", "unparseable_reference")
    verdict = grade("Answer: B", "Z", reference=CHOICES, mode="choice")
    assert (verdict.status, verdict.reason) == ("ungradeable", "unparseable_reference")


# --- exact and numeric --------------------------------------------------------------------------


def test_exact_rule() -> None:
    verdict = grade(r"\boxed{2 \sqrt{3}}", r"2\sqrt{3}")
    assert (verdict.status, verdict.details["rule"]) == ("pass", "exact")
    assert passes(r"\boxed{\left( 1, 2 \right]}", "(1,2]")
    assert passes(r"\boxed{\dfrac{\sqrt3}{2}}", r"\frac{\sqrt{3}}{2}")
    assert grade(r"\boxed{x^{2} + e^{y}}", "x^2+e^y").details["rule"] == "exact"
    assert grade(r"\boxed{x^{10}}", "x^10").details["rule"] != "exact"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (r"\boxed{1,000}", "1000"),
        (r"\boxed{1000}", "1,000"),
        (r"\boxed{\$1,234.50}", "1234.5"),
        (r"\boxed{5 \text{ cm}}", "5"),
        ("The answer is 12 apples.", 12),
        (r"\boxed{45^\circ}", "45"),
        (r"\boxed{\frac{3}{4}}", 0.75),
        (r"\boxed{3/4}", r"\frac{3}{4}"),
        (r"\boxed{-\frac{1}{2}}", "-0.5"),
        (r"\boxed{x = 7}", "7"),
        (r"\boxed{50\%}", "50"),
        (r"\boxed{0.3333333}", "1/3"),
        (r"\boxed{2.50}", 2.5),
    ],
)
def test_numeric_pass(content: str, expected: Any) -> None:
    verdict = grade(content, expected)
    assert (verdict.status, verdict.details["rule"]) == ("pass", "numeric"), verdict


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (r"\boxed{-10}", "10"),
        (r"\boxed{0.33}", "1/3"),
        (r"\boxed{1001}", "1000"),
        (r"\boxed{50\%}", "0.5"),  # a percentage is its number unless percent="either"
        (r"\boxed{\frac{4}{3}}", r"\frac{3}{4}"),
    ],
)
def test_numeric_fail(content: str, expected: Any) -> None:
    verdict = grade(content, expected)
    assert (verdict.status, verdict.reason, verdict.details["rule"]) == (
        "fail",
        "wrong_answer",
        "numeric",
    )


def test_numeric_tolerances() -> None:
    assert passes(r"\boxed{0.33}", "1/3", rel_tol=0.05)
    assert passes(r"\boxed{0.000000000001}", "0")  # abs_tol 1e-9 for answers near 0
    assert not passes(r"\boxed{0.000001}", "0")
    assert passes(r"\boxed{0.000001}", "0", abs_tol=1e-5)
    huge = "1" + "0" * 400  # exact: no float overflow
    assert passes(rf"\boxed{{{huge}}}", huge)
    assert not passes(rf"\boxed{{{huge[:-1]}1}}", huge)  # integers compare exactly
    assert passes(rf"\boxed{{{huge}.0000001}}", huge + ".0000002", rel_tol=1e-6)
    assert not passes(rf"\boxed{{2{huge[1:]}}}", huge)


def test_percent_either_is_lenient_and_says_so() -> None:
    verdict = grade(r"\boxed{50\%}", "0.5", percent="either")
    assert verdict.status == "pass" and verdict.details["lenient"] is True
    assert passes("0.25", r"25\%", percent="either")
    assert passes(r"\boxed{25\%}", "25", percent="either")
    assert "lenient" not in grade(r"\boxed{25\%}", "25", percent="either").details


# --- math-verify --------------------------------------------------------------------------------


def test_symbolic_math_verify() -> None:
    verdict = grade(r"\boxed{(x+1)^2}", "x^2+2x+1")
    assert (verdict.status, verdict.details["rule"]) == ("pass", "math_verify")
    assert verdict.details["parsed_gold"] == "x**2 + 2*x + 1"
    verdict = grade(r"\boxed{x^2+1}", "x^2+2x+1")
    assert (verdict.status, verdict.reason, verdict.details["rule"]) == (
        "fail",
        "wrong_answer",
        "math_verify",
    )
    assert passes(r"\boxed{\{2, 1\}}", r"\{1,2\}")
    assert passes(r"\boxed{3.141593}", r"\pi")
    assert not passes(r"\boxed{3.14}", r"\pi")


def test_exact_numbers_compared_at_50_digits() -> None:
    verdict = grade(r"\boxed{\sqrt{20}}", r"2\sqrt{5}")
    assert (verdict.status, verdict.details["rule"]) == ("pass", "numeric_eval")
    verdict = grade(r"\boxed{3\sqrt{2}}", r"2\sqrt{3}")
    assert (verdict.status, verdict.details["rule"]) == ("fail", "numeric_eval")
    assert passes(r"\boxed{\sin(\pi)}", r"\cos(\frac{\pi}{2})")  # zeros evalf cannot pin down
    verdict = grade(r"\boxed{\{3, -2, \sqrt{9}\}}", r"\{-2, 3\}")  # sets: order and repeats
    assert (verdict.status, verdict.details["rule"]) == ("pass", "numeric_eval")
    assert grade(r"\boxed{\{2, 3\}}", r"\{-2, 3\}").details["rule"] == "numeric_eval"
    assert not passes(r"\boxed{\{2, 3\}}", r"\{-2, 3\}")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r"2\sqrt{5}", 20**0.5),
        (r"3\pi/4", 3 * 3.141592653589793 / 4),
        (r"\sqrt[3]{8} \cdot 2^{10}", 2048),
        (r"-2^2", -4),
        (r"(1+\sqrt{5})/2", (1 + 5**0.5) / 2),
        (r"1/2\pi", None),  # 1/(2π) or π/2: refused, math-verify decides
        ("2 3", None),
        ("2^10", None),
        ("2^3^2", None),
        (r"(-8)^{\frac{1}{3}}", None),
        (r"\frac{1}{0}", None),
        ("1.5", None),  # decimals keep math-verify's rounding rules
        (r"\sqrt{10^{40}+1} - 10^{20}", None),  # cancellation: digits move with precision
        (r"10^{10^{5}}", None),
    ],
)
def test_exact_value(text: str, value: float | None) -> None:
    got = answer_exact.exact_value(text)
    assert (got is None) == (value is None)
    if value is not None:
        assert float(got) == pytest.approx(value, rel=1e-12)


# The known false positives of math-verify 0.9 (research/graders.md §3.1), each with our verdict.


def test_false_positive_one_minus_over_e() -> None:
    # math-verify alone: True (its unit stripping cuts both at `\frac{1}{`, leaving 1 = 1)
    assert not passes(r"\boxed{1 - \frac{1}{\mathrm{e}}}", r"1 + \frac{1}{\mathrm{e}}")
    assert passes(r"\boxed{1 + e^{-1}}", r"1 + \frac{1}{\mathrm{e}}")
    # the raw guard, without answer.py's clean-up: a parse cut mid-brace is never trusted
    result = math_equiv.compare(r"1 + \frac{1}{e}", r"1 + \frac{1}{\text{e}}")
    assert (result.outcome, result.guard) == ("different", "truncated_parse")


def test_false_positive_tiny_exact_values() -> None:
    verdict = grade(r"\boxed{\frac{1}{2006!}}", r"\frac{1}{2004!}")  # math-verify alone: True
    assert (verdict.status, verdict.details["rule"]) == ("fail", "sympy_eval")
    assert passes(r"\boxed{\frac{1}{2004!}}", r"\frac{1}{2004!}")


def test_false_positive_float_rounding() -> None:
    verdict = grade(r"\boxed{0.00000002}", r"\frac{1}{10^8}")  # math-verify alone: True
    assert (verdict.status, verdict.details["guard"]) == ("fail", "precision")
    assert verdict.details["rule"] == "math_verify_guard"
    assert passes(r"\boxed{0.00000001}", r"\frac{1}{10^8}")


@pytest.mark.parametrize(("pred", "gold"), [("(1,2)", r"\{1,2\}"), (r"\{1,2\}", "(1,2)")])
def test_false_positive_set_vs_interval(pred: str, gold: str) -> None:
    verdict = grade(rf"\boxed{{{pred}}}", gold)  # math-verify alone: True
    assert (verdict.status, verdict.details["guard"]) == ("fail", "set_vs_interval")


def test_intervals_keep_their_brackets() -> None:
    assert not passes(r"\boxed{[1,2)}", "(1,2]")
    assert not passes(r"\boxed{[1,2]}", "(1,2)")
    assert passes(r"\boxed{(1, 2]}", r"\left(1,2\right]")


def test_assignment_and_percent_decisions() -> None:
    # `x = 2` for 2 is right (math-verify agrees); 50% for 1/2 is not by default (it says True)
    assert passes(r"\boxed{x = 2\sqrt{2}}", r"2\sqrt{2}")
    assert passes(r"\boxed{2\sqrt{2}}", r"x = 2\sqrt{2}")
    assert passes(r"\boxed{10\%}", "10")
    assert not passes(r"\boxed{50\%}", r"\frac{1}{2}")
    assert passes(r"\boxed{50\%}", r"\frac{1}{2}", percent="either")


# --- math-verify failing: error, never fail -----------------------------------------------------


def test_timeout_is_an_error_and_the_next_call_works(fresh_worker: None) -> None:
    started = time.monotonic()
    verdict = grade(rf"\boxed{{{HEAVY}}}", r"\frac{1}{2}", timeout_s=1)
    assert (verdict.status, verdict.reason, verdict.score) == ("error", "math_verify_timeout", 0.0)
    assert time.monotonic() - started < 10
    verdict = grade(r"\boxed{(x+1)^2}", "x^2+2x+1", timeout_s=0.001)
    assert verdict.reason == "math_verify_timeout"
    assert passes(r"\boxed{(x+1)^2}", "x^2+2x+1")


def test_dead_worker_is_an_error_and_replaced(
    fresh_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert passes(r"\boxed{(x+1)^2}", "x^2+2x+1")
    assert math_equiv._worker is not None
    math_equiv._worker.proc.kill()
    math_equiv._worker.proc.wait()
    verdict = grade(r"\boxed{(x+2)^2}", "x^2+4x+4")
    assert (verdict.status, verdict.reason) == ("error", "math_verify_crashed")
    assert passes(r"\boxed{(x+2)^2}", "x^2+4x+4")
    math_equiv.shutdown()
    monkeypatch.setattr(sys, "executable", sys.executable + "-missing")
    verdict = grade(r"\boxed{(x+3)^2}", "x^2+6x+9")
    assert (verdict.status, verdict.reason) == ("error", "math_verify_crashed")
    assert "cannot start" in verdict.details["error"]


# --- multiple choice ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "Answer: B",
        "The answer is (B).",
        "**B**",
        "B) Paris",
        r"Therefore $\boxed{B}$.",
        r"$\boxed{\text{(B)}}$",
        "Final answer: **B**",
        "The correct answer is option B.",
        "Answer: Ｂ",
        "I think the answer is B because A is too small.",
        r"The answer is (B). \boxed{B}",
        "Options:\nA) 1\nB) 2\nC) 3\nSo I pick (B) as it fits.",
    ],
)
def test_choice_pass(content: str) -> None:
    verdict = grade(content, "B", reference=CHOICES)
    assert (verdict.status, verdict.details["rule"], verdict.details["mode"]) == (
        "pass",
        "choice",
        "choice",
    ), verdict


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("Answer: C", "wrong_answer"),
        ("Answer: B or C", "ambiguous_choice"),
        (r"\boxed{A, C}", "ambiguous_choice"),
        ("The answer is (A) and (C).", "ambiguous_choice"),
        ("\\boxed{B}\n\nFinal answer: C", "ambiguous_choice"),
        ("Answer: E", "invalid_choice"),
        ("I cannot decide between them.", "no_answer"),
        ("A) 1\nB) 2\nC) 3", "no_answer"),  # options restated, none chosen
    ],
)
def test_choice_fail(content: str, reason: str) -> None:
    verdict = grade(content, "B", reference=CHOICES)
    assert (verdict.status, verdict.reason) == ("fail", reason), verdict


def test_choice_letters_from_options_and_task() -> None:
    assert grade("Answer: E", "B", reference=CHOICES, choices="ABCDE").reason == "wrong_answer"
    texts = {"choices": ["red", "green", "blue"]}  # option texts: A, B, C
    assert grade("Answer: D", "B", reference=texts).reason == "invalid_choice"
    lettered = {"choices": {"A": "Paris", "B": "London"}}
    assert passes("Answer: A", "Paris", reference=lettered, mode="choice")


# --- short answers and modes --------------------------------------------------------------------


def test_short_answers() -> None:
    verdict = grade("The answer is the Eiffel Tower.", "Eiffel Tower")
    assert (verdict.status, verdict.details["rule"], verdict.details["mode"]) == (
        "pass",
        "short",
        "short",
    )
    assert passes(r"\boxed{\text{Paris}}", "paris")
    assert passes("Paris.", "Paris")
    assert passes("Answer: NYC", "New York City", reference={"aliases": ["NYC"]})
    verdict = grade("The answer is London", "Paris")
    assert (verdict.status, verdict.reason) == ("fail", "wrong_answer")
    assert grade("...", "Paris").reason == "no_answer"


@pytest.mark.parametrize(
    ("expected", "reference", "meta", "options", "mode"),
    [
        ("B", CHOICES, {}, {}, "choice"),
        ("B", {}, {}, {}, "math"),
        ("42", {}, {}, {}, "numeric"),
        (r"\frac{\sqrt{3}}{2}", {}, {}, {}, "math"),
        ("Eiffel Tower", {}, {}, {}, "short"),
        ("42", {}, {"answer_type": "short"}, {}, "short"),
        ("42", {}, {"answer_type": "short"}, {"mode": "math"}, "math"),
    ],
)
def test_mode_inference(
    expected: str,
    reference: dict[str, Any],
    meta: dict[str, Any],
    options: dict[str, Any],
    mode: str,
) -> None:
    verdict = grade("Answer: B", expected, reference=reference, meta=meta, **options)
    assert verdict.details["mode"] == mode

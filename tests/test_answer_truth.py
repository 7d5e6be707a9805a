"""Grader truth (issue 13): no wrong answer passes, no right one fails, one test per class, and
the labelled adversarial corpus (bench/data/answer_corpus.jsonl) graded with zero mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from distill.grade import answer
from distill.records import Sample, Task, Verdict

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "data" / "answer_corpus.jsonl"
CHOICES = {"choices": list("ABCDEFGHIJ")}


def grade(
    content: str, expected: Any, reference: dict[str, Any] | None = None, **opts: Any
) -> Verdict:
    task = Task(
        id="t", kind="math", prompt="q", reference={"answer": expected, **(reference or {})}
    )
    return answer.grade(task, Sample("t", 0, "sim", "k", [], "ok", content=content), opts)


def status(
    content: str, expected: Any, reference: dict[str, Any] | None = None, **opts: Any
) -> str:
    return grade(content, expected, reference, **opts).status


# --- the fallback takes a whole math span, and bare numbers respect word boundaries --------------


def test_fallback_compares_the_last_math_span_whole() -> None:
    ratio = r"So the ratio is $\frac{1+\sqrt5}{2}$"
    assert status(ratio, "2") == "fail"  # was: the denominator 2 passed
    assert status(ratio, r"\frac{1+\sqrt{5}}{2}") == "pass"
    assert status(r"The range is $-[0,1)$", "1") == "fail"
    assert status("The code is AZYUK2A", "2") == "fail"  # a digit inside a word is no number
    assert status("Adding 40 and 2 gives 42", "42") == "pass"
    verdict = grade(r"We find $x = 7$ after checking.", "7")
    assert (verdict.status, verdict.details["extraction"]) == ("pass", "math_span")


# --- several boxed values --------------------------------------------------------------------


def test_two_different_boxed_values_are_ambiguous() -> None:
    content = r"First \boxed{3}, then on reflection \boxed{5}."
    for gold in ("3", "5"):
        verdict = grade(content, gold)
        assert (verdict.status, verdict.reason) == ("fail", "ambiguous_answer"), verdict
    assert status(r"\boxed{5} and again \boxed{5.0}", "5") == "pass"  # the same value twice
    assert grade(r"\boxed{B}\boxed{C}", "B", CHOICES).reason == "ambiguous_choice"


def test_adjacent_boxed_values_compare_as_a_set() -> None:
    content = r"The solutions are $\boxed{1},\boxed{2},\boxed{3}$."
    assert status(content, r"\{1,2,3\}") == "pass"
    assert status(content, "3, 1, 2") == "pass"
    assert status(content, r"\{1,2\}") == "fail"
    assert status(content, r"\{1,2,4\}") == "fail"
    assert grade(content, "2").reason == "ambiguous_answer"


# --- integers, units, number forms --------------------------------------------------------------


def test_integers_compare_exactly() -> None:
    assert status(r"\boxed{1000000008}", "1000000007") == "fail"
    assert status(r"\boxed{1000000007}", "1000000007") == "pass"
    assert status(r"\boxed{2.9999999}", "3") == "fail"
    assert status(r"\boxed{2^{100}+1}", "2^{100}") == "fail"


def test_units_must_be_the_references() -> None:
    assert status(r"\boxed{5 \text{ cm}}", "5 m") == "fail"
    assert status("The answer is 5 cm.", r"5\text{ m}") == "fail"
    assert status(r"\boxed{5\text{ m}}", "5 m") == "pass"
    assert status(r"\boxed{5 \text{ meters}}", "5 m") == "pass"
    assert status(r"\boxed{5}", r"5\text{ cm}") == "pass"
    assert status(r"\boxed{2\sqrt{3}\text{ m}}", r"2\sqrt{3}\text{ cm}") == "fail"
    assert status(r"\boxed{5 \text{ cm}}", "5") == "pass"  # the reference has none: dropped
    assert status(r"\boxed{5 \text{ cm}}", "5", units="strict") == "fail"


def test_mixed_numbers_digit_groups_and_pi() -> None:
    assert status(r"\boxed{3\frac{1}{2}}", "3.5") == "pass"
    assert status(r"\boxed{3\frac{1}{2}}", "1.5") == "fail"
    assert status(r"\boxed{-2\frac{1}{4}}", r"-\frac{9}{4}") == "pass"
    assert status(r"\boxed{1\,000\,000}", "1000000") == "pass"
    assert status("The total is 1 000 000", "1000000") == "pass"
    assert status("The total comes to 1 000 000 dollars", "1000") == "fail"
    assert status(r"\boxed{2π}", "2") == "fail"
    assert status("The circumference is 2π", "2") == "fail"
    assert status(r"\boxed{2π}", r"2\pi") == "pass"


def test_matrix_rows_survive_normalisation() -> None:
    vector = r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"
    assert status(r"\boxed{1}", vector) == "fail"
    assert status(rf"\boxed{{{vector}}}", vector) == "pass"
    assert (
        status(r"\boxed{\begin{bmatrix} 1 \\ 3 \end{bmatrix}}", r"\begin{bmatrix}1\\2\end{bmatrix}")
        == "fail"
    )


def test_final_answer_sentence_gives_the_value_not_the_variable() -> None:
    verdict = grade("Final Answer: The largest $n$ is 34.", "34")
    assert (verdict.status, verdict.details["extracted"]) == ("pass", "34")
    assert status("Final Answer: The largest $n$ is 34.", "n") == "fail"


# --- multiple choice ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "gold"),
    [
        (r"The answer is \( B \).", "B"),
        (r"The answer is $\boxed{\text{J. }}$", "J"),
        ("Looking at each option in turn, the best fit is\n\nD. The mitochondria", "D"),
        ("Comparing them all, I would go with option G", "G"),
        ("The result is [2, 2], which corresponds to option H.", "H"),
        ("The answer is (C).\n\nLet me restate what the answer is:", "C"),
    ],
)
def test_choice_letters_that_are_answers(content: str, gold: str) -> None:
    verdict = grade(content, gold, CHOICES)
    assert (verdict.status, verdict.details.get("extracted")) == ("pass", gold), verdict


@pytest.mark.parametrize(
    ("content", "gold", "reason"),
    [
        ("It is either (E) or (F).", "E", "ambiguous_choice"),
        ("It is either (E) or (F).", "F", "ambiguous_choice"),
        ("Both (D) fit here and (I) does too.", "D", "ambiguous_choice"),
        ("Since P(F) = 0.2 the event is unlikely.", "F", "no_answer"),
        (r"We compute \det(A) = 5 to finish.", "A", "no_answer"),
        (r"So $\boxed{f(x) = 2}$.", "F", "no_answer"),
        (r"\boxed{P(A)=0.5}", "A", "no_answer"),
    ],
)
def test_choice_letters_that_are_not_answers(content: str, gold: str, reason: str) -> None:
    verdict = grade(content, gold, CHOICES)
    assert (verdict.status, verdict.reason) == ("fail", reason), verdict


# --- the math-verify worker starts on first use ------------------------------------------------


def test_math_verify_worker_starts_lazily() -> None:
    code = (
        "from distill.grade import answer, math_equiv\n"
        "from distill.records import Sample, Task\n"
        "t = Task(id='t', kind='math', prompt='q', reference={'answer': '42'})\n"
        "v = answer.grade(t, Sample('t', 0, 's', 'k', [], 'ok', content='\\\\boxed{42}'), {})\n"
        "assert v.status == 'pass', v\n"
        "print(math_equiv._worker is None)\n"
        "t = Task(id='t', kind='math', prompt='q', reference={'answer': 'x^2+2x+1'})\n"
        "v = answer.grade(t, Sample('t', 0, 's', 'k', [], 'ok', content='\\\\boxed{(x+1)^2}'), {})\n"
        "print(v.status, math_equiv._worker is None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["True", "pass", "False"], done.stderr


# --- the labelled corpus ------------------------------------------------------------------------


def load_corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def test_corpus_is_large_and_covers_every_category() -> None:
    rows = load_corpus()
    assert len(rows) >= 300
    assert {r["category"] for r in rows} == {"math", "choice", "short"}
    assert {r["expected"] for r in rows} == {"pass", "fail"}
    assert len({r["class"] for r in rows}) >= 10


def test_corpus_has_no_false_pass_and_no_false_fail() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from _grade_answers import grade_corpus

    mistakes = [
        (r["class"], r["expected"], v.status, v.reason, r["answer"][:80], r["reference"])
        for r, v in grade_corpus(load_corpus())
        if (v.status == "pass") != (r["expected"] == "pass")
    ]
    assert mistakes == []

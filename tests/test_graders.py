"""The pure graders: answer (math), merge (conflict resolutions), well_formed (chat)."""

from __future__ import annotations

from typing import Any

import pytest
from factories import make_sample, make_task

from distill.grade import answer, merge, well_formed
from distill.records import Verdict


@pytest.mark.parametrize("module", [answer, merge, well_formed])
def test_graders_expose_name_and_version(module: Any) -> None:
    assert isinstance(module.NAME, str) and module.NAME
    assert isinstance(module.VERSION, str) and module.VERSION
    verdict = module.grade(make_task("chat", {}), make_sample("hello"), {})
    assert isinstance(verdict, Verdict)
    assert verdict.grader == module.NAME
    assert verdict.grader_version == module.VERSION


# --- answer -------------------------------------------------------------------------------


def grade_answer(content: str, expected: Any, **options: Any) -> Verdict:
    return answer.grade(make_task("math", {"answer": expected}), make_sample(content), options)


def test_answer_two_different_boxes_are_ambiguous() -> None:
    content = r"First guess \boxed{5}, but on reflection the answer is \boxed{7}."
    verdict = grade_answer(content, "7")  # issue 13: not "last box wins"
    assert (verdict.status, verdict.reason) == ("fail", "ambiguous_answer")
    assert verdict.details["extraction"] == "boxed"
    assert grade_answer(content, "5").status == "fail"
    verdict = grade_answer(r"First guess \boxed{7}, checked: \boxed{7}.", "7")
    assert (verdict.status, verdict.score, verdict.details["extracted"]) == ("pass", 1.0, "7")


def test_answer_box_beats_anchor_and_numbers() -> None:
    content = r"Answer: 3. Actually \boxed{4} and then I mention 99."
    verdict = grade_answer(content, "4")
    assert verdict.status == "pass"
    assert verdict.details["extraction"] == "boxed"


def test_answer_nested_braces_in_box() -> None:
    verdict = grade_answer(r"So $x = \boxed{\frac{3}{4}}$.", "3/4")
    assert verdict.status == "pass"
    assert verdict.details["extracted"] == r"\frac{3}{4}"
    assert verdict.reason == "numeric"


def test_answer_dfrac_and_negative_frac() -> None:
    assert grade_answer(r"\boxed{\dfrac{3}{4}}", "0.75").status == "pass"
    assert grade_answer(r"\boxed{-\frac{3}{4}}", "-0.75").status == "pass"
    assert grade_answer(r"\boxed{\frac{3}{4}}", "-0.75").status == "fail"


def test_answer_decimal_equals_fraction() -> None:
    verdict = grade_answer(r"\boxed{0.75}", "3/4")
    assert verdict.status == "pass"
    assert verdict.reason == "numeric"


def test_answer_numeric_tolerance() -> None:
    assert grade_answer(r"\boxed{0.3333333333}", "1/3").status == "pass"
    assert grade_answer(r"\boxed{0.33}", "1/3").status == "fail"
    assert grade_answer(r"\boxed{0.33}", "1/3", rel_tol=0.05).status == "pass"


def test_answer_thousands_separator() -> None:
    assert grade_answer(r"\boxed{1,000}", "1000").status == "pass"
    assert grade_answer("so the total is 1,000", "1000").status == "pass"
    assert grade_answer(r"\boxed{1000}", "1,000").status == "pass"


def test_answer_dollar_signs_around_a_bare_number() -> None:
    verdict = grade_answer("Adding them up we get $42$.", "42")
    assert verdict.status == "pass"


def test_answer_dollar_signs_and_period_after_an_anchor() -> None:
    verdict = grade_answer("The answer is $42$.", "42")
    assert verdict.status == "pass"


@pytest.mark.parametrize(
    "content", ["**Final Answer:** 42", "The answer is: 42", "The answer is **42**."]
)
def test_answer_anchor_with_markdown_or_colon(content: str) -> None:
    assert grade_answer(content, "42").status == "pass"


def test_answer_sign_matters() -> None:
    verdict = grade_answer(r"\boxed{-10}", "10")
    assert verdict.status == "fail"
    assert verdict.reason == "wrong_answer"
    assert verdict.score == 0.0
    assert verdict.details["rule"] == "numeric"


def test_answer_anchor_when_no_box() -> None:
    verdict = grade_answer("We try 3 and 9.\nThe final answer is 12\nChecking with 99.", "12")
    assert verdict.status == "pass"
    assert verdict.details["extraction"] == "anchor"
    assert verdict.details["extracted"] == "12"


def test_answer_last_number_when_no_box_or_anchor() -> None:
    verdict = grade_answer("Try 3, then 9, and we land on 27", "27")
    assert verdict.status == "pass"
    assert verdict.details["extraction"] == "last_number"


def test_answer_reads_the_content_not_the_reasoning() -> None:
    sample = make_sample("I am not sure.", reasoning=r"maybe \boxed{12}")
    verdict = answer.grade(make_task("math", {"answer": "12"}), sample, {})
    assert verdict.status == "fail"
    assert verdict.reason == "no_answer"


def test_answer_no_number_at_all() -> None:
    verdict = grade_answer("I could not work this out.", "12")
    assert verdict.status == "fail"
    assert verdict.reason == "no_answer"
    assert verdict.details["extraction"] == "none"


@pytest.mark.parametrize("reference", [{}, {"answer": ""}, {"answer": "   "}, {"answer": None}])
def test_answer_missing_reference_is_ungradeable(reference: dict[str, Any]) -> None:
    verdict = answer.grade(make_task("math", reference), make_sample(r"\boxed{1}"), {})
    assert verdict.status == "ungradeable"
    assert verdict.reason == "no_reference_answer"


def test_answer_numeric_reference_value() -> None:
    assert grade_answer(r"\boxed{12}", 12).status == "pass"
    assert grade_answer(r"\boxed{2.5}", 2.5).status == "pass"


def test_answer_symbolic_exact_match() -> None:
    verdict = grade_answer(r"\boxed{2\sqrt{3}}", r"2\sqrt{3}")
    assert verdict.status == "pass"
    assert verdict.reason == "exact"
    assert grade_answer(r"\boxed{2 \sqrt{3}}", r"2\sqrt{3}").status == "pass"
    assert grade_answer(r"\boxed{3\sqrt{2}}", r"2\sqrt{3}").status == "fail"


def test_answer_text_ignores_letter_case_but_not_the_word() -> None:
    assert grade_answer("The answer is paris", "Paris").status == "pass"
    assert grade_answer(r"\boxed{\text{PARIS}}", "Paris").status == "pass"
    wrong = grade_answer("The answer is London", "Paris")
    assert wrong.status == "fail"
    assert wrong.details["rule"] == "short"


# --- merge --------------------------------------------------------------------------------

CONFLICT = """def total(items):
<<<<<<< ours
    return sum(items)
=======
    return sum(i.price for i in items)
>>>>>>> theirs
"""

RESOLUTION = """def total(items):
    return sum(i.price for i in items if i)
"""


def grade_merge(content: str, **options: Any) -> Verdict:
    task = make_task("merge", {"resolution": RESOLUTION, "conflict": CONFLICT}, prompt=CONFLICT)
    return merge.grade(task, make_sample(content), options)


def fenced(code: str, lang: str = "python") -> str:
    return f"Here is the resolved file:\n\n```{lang}\n{code}```\n"


def test_merge_exact() -> None:
    verdict = grade_merge(fenced(RESOLUTION))
    assert verdict.status == "pass"
    assert verdict.reason == "exact"
    assert verdict.score == 1.0


def test_merge_exact_ignores_trailing_spaces_crlf_and_edge_blank_lines() -> None:
    noisy = "\n" + RESOLUTION.replace("\n", "   \r\n") + "\n"
    assert grade_merge(fenced(noisy, lang="")).reason == "exact"


def test_merge_uses_the_last_block() -> None:
    content = fenced("wrong = 1\n") + "\nFinal:\n" + fenced(RESOLUTION)
    assert grade_merge(content).reason == "exact"


def test_merge_whitespace_only_difference_passes() -> None:
    spaced = RESOLUTION.replace("return sum(", "return  sum( ").replace("    ", "\t")
    verdict = grade_merge(fenced(spaced))
    assert verdict.status == "pass"
    assert verdict.reason == "whitespace"


def test_merge_glued_tokens_are_not_whitespace_only() -> None:
    glued = RESOLUTION.replace("if i", "ifi")
    assert grade_merge(fenced(glued)).status == "fail"


def test_merge_returned_conflict_is_abstained() -> None:
    verdict = grade_merge(fenced(CONFLICT))
    assert verdict.status == "fail"
    assert verdict.reason == "abstained"
    assert verdict.score == 0.0


def test_merge_conflict_from_prompt_when_reference_has_none() -> None:
    task = make_task("merge", {"resolution": RESOLUTION}, prompt=CONFLICT)
    assert merge.grade(task, make_sample(fenced(CONFLICT)), {}).reason == "abstained"


def test_merge_markers_left() -> None:
    half = """def total(items):
<<<<<<< ours
    return sum(i.price for i in items if i)
=======
>>>>>>> theirs
"""
    verdict = grade_merge(fenced(half))
    assert verdict.status == "fail"
    assert verdict.reason == "markers_left"


def test_merge_different_resolution_is_incorrect() -> None:
    verdict = grade_merge(fenced("def total(items):\n    return sum(items)\n"))
    assert verdict.status == "fail"
    assert verdict.reason == "incorrect"
    assert verdict.details["class"] == "incorrect"


def test_merge_no_fenced_block() -> None:
    verdict = grade_merge(RESOLUTION)
    assert verdict.status == "fail"
    assert verdict.reason == "no_block"


def test_merge_unclosed_fence_is_no_block() -> None:
    assert grade_merge("```python\n" + RESOLUTION).reason == "no_block"


def test_merge_pass_classes_option() -> None:
    spaced = RESOLUTION.replace("return sum(", "return  sum(")
    strict = grade_merge(fenced(spaced), pass_classes=["exact"])
    assert strict.reason == "whitespace"
    assert strict.status == "fail"
    assert strict.details["pass_classes"] == ["exact"]
    lenient = grade_merge(fenced(CONFLICT), pass_classes=["exact", "whitespace", "abstained"])
    assert lenient.status == "pass"
    assert lenient.reason == "abstained"
    assert lenient.score == 1.0


def test_merge_default_pass_classes_in_details() -> None:
    assert grade_merge(fenced(RESOLUTION)).details["pass_classes"] == ["exact", "whitespace"]


@pytest.mark.parametrize("reference", [{}, {"resolution": ""}, {"resolution": "  \n"}])
def test_merge_missing_resolution_is_ungradeable(reference: dict[str, Any]) -> None:
    verdict = merge.grade(make_task("merge", reference), make_sample(fenced(RESOLUTION)), {})
    assert verdict.status == "ungradeable"


# --- well_formed --------------------------------------------------------------------------


def grade_chat(content: str, **options: Any) -> Verdict:
    return well_formed.grade(make_task("chat", {}), make_sample(content), options)


def test_well_formed_passes_a_normal_answer_as_unverified() -> None:
    verdict = grade_chat("Paris is the capital of France.")
    assert verdict.status == "pass"
    assert verdict.reason == "unverified"
    assert verdict.score == 1.0


@pytest.mark.parametrize("content", ["", "   \n\t "])
def test_well_formed_fails_empty(content: str) -> None:
    verdict = grade_chat(content)
    assert verdict.status == "fail"
    assert verdict.reason == "too_short"
    assert verdict.details["chars"] == 0


@pytest.mark.parametrize(
    "content",
    ["reasoning here</think>The answer.", "<think>still thinking", "ok <think>x</think> ok"],
)
def test_well_formed_fails_think_leftovers(content: str) -> None:
    verdict = grade_chat(content)
    assert verdict.status == "fail"
    assert verdict.reason == "reasoning_in_answer"


def test_well_formed_min_chars_option() -> None:
    assert grade_chat("short", min_chars=10).reason == "too_short"
    assert grade_chat("long enough answer", min_chars=10).status == "pass"


def test_merge_python_nesting_change_is_not_whitespace() -> None:
    reference = {"resolution": "if a:\n    f()\n    g()\n", "conflict": "x", "language": "python"}
    task = make_task("merge", reference)
    dedented = merge.grade(task, make_sample("```python\nif a:\n    f()\ng()\n```"), {})
    assert dedented.status == "fail" and dedented.reason == "incorrect"
    reindented = merge.grade(task, make_sample("```python\nif a:\n\tf()\n\tg()\n```"), {})
    assert reindented.status == "pass" and reindented.reason == "whitespace"


@pytest.mark.parametrize(
    ("language", "resolution", "answer", "reason"),
    [
        ("c", 'int x = f("a // b");\n', 'int x = f("a // b"); // added\n', "comments"),
        ("c", 'int x = f("a // b");\n', 'int x = f("a ");\n', "incorrect"),
        ("javascript", "let a = 1;\n", "/* note */ let a = 1;\n", "comments"),
        ("python", 'x = "#1"\n', 'x = "#1"  # the first\n', "comments"),
        ("python", 'x = "#1"\n', 'x = "#2"\n', "incorrect"),
        ("unknownlang", "a\n", "a // b\n", "incorrect"),
    ],
)
def test_merge_comment_class_is_language_aware(
    language: str, resolution: str, answer: str, reason: str
) -> None:
    task = make_task("merge", {"resolution": resolution, "conflict": "x", "language": language})
    verdict = merge.grade(task, make_sample(f"```{language}\n{answer}```"), {})
    assert verdict.reason == reason and verdict.status == "fail"
    passing = merge.grade(
        task, make_sample(f"```{language}\n{answer}```"), {"pass_classes": ["exact", "comments"]}
    )
    assert (passing.status == "pass") == (reason == "comments")

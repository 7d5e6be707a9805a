"""Writes answer_corpus.jsonl: labelled (reference, answer, expected verdict, class) pairs for the
answer grader, written from the rules of issue 13 (not from any external test list).

Each row: `category` (math | choice | short), `class` (the rule it exercises), `reference` (the
task's reference: `answer`, and `choices` or `aliases` where they apply), `answer` (the model's
answer text), `expected` (pass | fail), and `options` (grader options, usually none). The labels
are what a careful human grader would say. Run: python bench/data/build_answer_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("answer_corpus.jsonl")
ROWS: list[dict[str, Any]] = []
LETTERS = list("ABCDEFGHIJ")


def add(category: str, cls: str, gold: Any, answer: str, ok: bool, **extra: Any) -> None:
    options = extra.pop("options", {})
    reference = {"answer": gold, **extra}
    row = {"category": category, "class": cls, "reference": reference, "answer": answer}
    row["expected"] = "pass" if ok else "fail"
    if options:
        row["options"] = options
    ROWS.append(row)


def math(cls: str, gold: Any, answer: str, ok: bool, **options: Any) -> None:
    add("math", cls, gold, answer, ok, options=options)


def choice(cls: str, gold: str, answer: str, ok: bool) -> None:
    add("choice", cls, gold, answer, ok, choices=LETTERS)


def short(cls: str, gold: str, answer: str, ok: bool, aliases: list[str] | None = None) -> None:
    extra = {"aliases": aliases} if aliases else {}
    add("short", cls, gold, answer, ok, **extra)


# --- fallback: whole math spans, numbers as words ------------------------------------------------
for gold, ok in [("2", False), (r"\frac{1+\sqrt{5}}{2}", True), ("5", False), ("1", False)]:
    math("math_span_whole", gold, r"So the ratio is $\frac{1+\sqrt5}{2}$", ok)
    math("math_span_whole", gold, r"Hence the golden ratio \(\frac{1+\sqrt{5}}{2}\).", ok)
for gold in ("1", "0", "-1"):
    math("math_span_whole", gold, r"The set of values is $-[0,1)$", False)
math("math_span_whole", "[0,1)", r"The values fill $[0,1)$", True)
math("math_span_whole", "(0,1]", r"The values fill $[0,1)$", False)
math("math_span_whole", "7", r"We find $x = 7$ after checking both roots.", True)
math("math_span_whole", "14", r"So $x = 7$, and hence $y = 14$.", True)
math("math_span_whole", "7", r"So $x = 7$, and hence $y = 14$.", False)
math("math_span_whole", "4", r"The denominator of $\frac{3}{4}$ matters here.", False)
math("math_span_whole", r"\frac{3}{4}", r"The probability comes out as $\frac{3}{4}$", True)
math("math_span_whole", "3", r"The probability comes out as $\frac{3}{4}$", False)
math("math_span_whole", "9", r"We get \[x^2 = 9\] which we solve.", False)
math("math_span_whole", "2", r"The exponent in $e^{2x}$ is what we need", False)
math("math_span_whole", "2", r"Evaluating, $\sqrt{2}$ is the length.", False)
math("math_span_whole", r"\sqrt{2}", r"Evaluating, $\sqrt{2}$ is the length.", True)
for word in ("AZYUK2A", "X2Y", "B52", "v2", "H2O", "x2"):
    math("number_in_word", "2", f"The code we need is {word}", False)
    math("number_in_word", "52" if word == "B52" else "2", f"It reads {word}, nothing else.", False)
math("number_in_word", "42", "Adding 40 and 2 gives 42", True)
math("number_in_word", "41", "Adding 40 and 2 gives 42", False)
math("number_in_word", "27", "Try 3, then 9, and we land on 27", True)
math("number_in_word", "1000", "so the total is 1,000", True)
math("number_in_word", "12", "The box holds 12.", True)
math("number_in_word", "12", "The box holds 13.", False)
math("number_in_word", "2", "Write it as 2x and we are done", False)
math("number_in_word", "2", "I could not find it.", False)

# --- several boxes -------------------------------------------------------------------------------
for gold in ("3", "5", "4"):
    math("boxed_ambiguous", gold, r"First \boxed{3}, then on reflection \boxed{5}.", False)
    math("boxed_ambiguous", gold, "\\boxed{3}\n\nWait, that is wrong.\n\n\\boxed{5}", False)
math("boxed_ambiguous", "5", r"\boxed{5} and again \boxed{5.0}", True)
math("boxed_ambiguous", "5", r"So \boxed{5}. To be sure: \boxed{5}", True)
math("boxed_ambiguous", r"\frac{1}{2}", r"\boxed{0.5} or equally \boxed{\frac{1}{2}}", True)
math("boxed_ambiguous", "12", r"x = \boxed{4}, so the area is \boxed{12}.", False)
math("boxed_ambiguous", "7", "\\boxed{7}\n\nFinal: \\boxed{7", False)  # cut off mid-box
for gold, ok in [
    (r"\{1,2,3\}", True),
    ("1, 2, 3", True),
    ("3, 1, 2", True),
    (r"\{1,2\}", False),
    (r"\{1,2,4\}", False),
    (r"\{1,2,3,4\}", False),
    ("2", False),
]:
    math("boxed_set", gold, r"The solutions are $\boxed{1},\boxed{2},\boxed{3}$.", ok)
    math("boxed_set", gold, r"$x = \boxed{1}$, $\boxed{2}$ and $\boxed{3}$", ok)
math("boxed_set", r"\{-2, 3\}", r"\boxed{3}, \boxed{-2}", True)
math("boxed_set", r"\{-2, 3\}", r"\boxed{3}, \boxed{2}", False)
math("boxed_set", r"\{\sqrt{2}, -\sqrt{2}\}", r"\boxed{\sqrt{2}} and \boxed{-\sqrt{2}}", True)
math("boxed_set", r"\{1, 2\}", r"\boxed{1} then later after checking \boxed{2}", False)

# --- integers exactly, tolerance for the rest ----------------------------------------------------
for gold, pred, ok in [
    ("1000000007", "1000000008", False),
    ("1000000007", "1000000007", True),
    ("1000000007", "1,000,000,007", True),
    ("998244353", "998244354", False),
    ("123456789012", "123456789013", False),
    ("3", "2.9999999", False),
    ("3", "3.0", True),
    ("0", "0.000000000001", True),
    ("0", "0.001", False),
    ("2^{100}", "2^{100}+1", False),
    ("2^{100}", "1267650600228229401496703205376", True),
    ("10^{30}", "10^{30}+1", False),
    ("100!", "100!+1", False),
    (r"\frac{1}{3}", "0.3333333", True),
    (r"\frac{1}{3}", "0.33", False),
    ("2.5", "2.50", True),
    ("2.5", "2.5000001", True),
    ("-10", "10", False),
    ("1000", "1001", False),
]:
    math("integer_exact", gold, rf"\boxed{{{pred}}}", ok)

# --- units ---------------------------------------------------------------------------------------
for gold, pred, ok in [
    ("5 m", r"5 \text{ cm}", False),
    ("5 m", r"5\text{ m}", True),
    ("5 m", r"5 \text{ meters}", True),
    ("5 m", "5", True),
    (r"5\text{ cm}", "5", True),
    (r"5\text{ cm}", r"5\text{ mm}", False),
    (r"5\text{ cm}", r"5 \text{ centimetres}", True),
    (r"5\text{ cm}", r"50\text{ cm}", False),
    ("5 kg", r"5\text{ g}", False),
    ("5 kg", r"5 \text{ kilograms}", True),
    (r"12\text{ cm}^2", r"12 \text{ cm}^2", True),
    (r"12\text{ cm}^2", r"12 \text{ cm}", False),
    (r"2\sqrt{3}\text{ cm}", r"2\sqrt{3}\text{ m}", False),
    (r"2\sqrt{3}\text{ cm}", r"2\sqrt{3}\text{ cm}", True),
    ("60 mph", "60 km/h", False),
    ("3 hours", r"3\text{ hours}", True),
    ("3 hours", r"3\text{ minutes}", False),
    ("45", r"45^\circ", True),
    (r"45^\circ", "45", True),
    (r"45^\circ", "45 degrees", True),
    ("1234.5", r"\$1,234.50", True),
    (r"\$12", "12 dollars", True),
    (r"\$12", "12 cents", False),
]:
    math("units", gold, rf"\boxed{{{pred}}}", ok)
math("units", "5", r"\boxed{5 \text{ cm}}", True)
math("units", "5", r"\boxed{5 \text{ cm}}", False, units="strict")
math("units", "5", "The answer is 12 apples.", False)
math("units", "12", "The answer is 12 apples.", True)
math("units", r"5\text{ m}", "The answer is 5 cm.", False)
math("units", r"5\text{ m}", "The answer is 5 m.", True)
math("units", "5 m", "The pole casts a shadow of 5 cm", False)
math("units", "5 m", "The pole casts a shadow of 5 m", True)
math("units", "5 cm", "The answer is $5$ m.", False)

# --- mixed numbers, digit groups, pi -------------------------------------------------------------
for gold, pred, ok in [
    ("3.5", r"3\frac{1}{2}", True),
    ("1.5", r"3\frac{1}{2}", False),
    (r"\frac{7}{2}", r"3\frac{1}{2}", True),
    (r"3\frac{1}{2}", "3.5", True),
    (r"3\frac{1}{2}", r"\frac{7}{2}", True),
    (r"3\frac{1}{2}", "1.5", False),
    (r"-\frac{9}{4}", r"-2\frac{1}{4}", True),
    ("-2.25", r"-2\frac{1}{4}", True),
    ("-1.75", r"-2\frac{1}{4}", False),
    ("3.5", "3 1/2", True),
    ("1.5", "3 1/2", False),
    ("12.75", r"12\dfrac{3}{4}", True),
    ("9", r"12\dfrac{3}{4}", False),
]:
    math("mixed_number", gold, rf"\boxed{{{pred}}}", ok)
for gold, content, ok in [
    ("1000000", r"\boxed{1\,000\,000}", True),
    ("1000000", "The total is 1 000 000", True),
    ("1000000", "The total is 1\u2009000\u2009000", True),
    ("1000000", r"\boxed{1{,}000{,}000}", True),
    ("1000", "The total comes to 1 000 000 dollars", False),
    ("000", "The total is 1 000 000", False),
    ("1000000", r"\boxed{1\,000\,001}", False),
    ("2500", "We need 2 500 bricks", True),
    ("500", "We need 2 500 bricks", False),
]:
    math("digit_groups", gold, content, ok)
for gold, content, ok in [
    ("2", r"\boxed{2π}", False),
    ("2", "The circumference is 2π", False),
    (r"2\pi", r"\boxed{2π}", True),
    (r"2\pi", "The circumference is $2\\pi$", True),
    ("2", r"\boxed{2\pi}", False),
    ("6.283185", r"\boxed{2\pi}", True),
    (r"\frac{\pi}{2}", r"\boxed{\frac{π}{2}}", True),
    ("4", r"The area is $4\pi$", False),
    (r"4\pi", r"The area is $4\pi$", True),
]:
    math("pi", gold, content, ok)

# --- matrices ------------------------------------------------------------------------------------
vec = r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"
bvec = r"\begin{bmatrix} 3 \\ -1 \end{bmatrix}"
for gold, content, ok in [
    (vec, r"\boxed{1}", False),
    (vec, r"\boxed{2}", False),
    (vec, rf"\boxed{{{vec}}}", True),
    (vec, r"\boxed{\begin{pmatrix}1\\2\end{pmatrix}}", True),
    (vec, r"\boxed{\begin{pmatrix} 1 \\ 3 \end{pmatrix}}", False),
    (vec, r"\boxed{\begin{pmatrix} 2 \\ 1 \end{pmatrix}}", False),
    (bvec, r"\boxed{3}", False),
    (bvec, rf"\boxed{{{bvec}}}", True),
    (bvec, r"\boxed{\begin{bmatrix} 3 \\ 1 \end{bmatrix}}", False),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\boxed{1}", False),
    (
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        r"\boxed{\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}}",
        True,
    ),
    (
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        r"\boxed{\begin{pmatrix} 1 & 2 \\ 4 & 3 \end{pmatrix}}",
        False,
    ),
]:
    math("matrix", gold, content, ok)

# --- answer phrases ------------------------------------------------------------------------------
for gold, content, ok in [
    ("34", "Final Answer: The largest $n$ is 34.", True),
    ("n", "Final Answer: The largest $n$ is 34.", False),
    ("33", "Final Answer: The largest $n$ is 34.", False),
    ("12", "Answer: The number of ways is $12$.", True),
    ("12", "Answer: The number of ways is $13$.", False),
    ("5", "The answer is $x = 5$.", True),
    ("42", "Final Answer: The final answer is $42$. I hope it is correct.", True),
    ("42", "The answer is 42 because 6 * 7 = 42 and not 17", True),
    ("17", "The answer is 42 because 6 * 7 = 42 and not 17", False),
    ("42", r"The answer is $\frac{84}{2}$ since 7 * 6 = 42.", True),
    ("7", "We try 3 and 9.\nThe final answer is 7\nChecking with 99.", True),
    ("99", "We try 3 and 9.\nThe final answer is 7\nChecking with 99.", False),
    ("5", "The answer is 5.\n\nSo what the answer is: well, clear from the above reasoning.", True),
    ("8", "**Final Answer**\n\n8", True),
    ("8", "**Final Answer:** $8$", True),
    ("9", "**Final Answer:** $8$", False),
    ("3", "Answer: $3$ (this is the minimum)", True),
    ("0.25", r"The answer is $\frac{1}{4}$, which is 25%.", True),
    ("4", "The answer is: 4 apples", True),
]:
    math("answer_phrase", gold, content, ok)

# --- plain forms and symbolic --------------------------------------------------------------------
for gold, pred, ok in [
    ("0.75", r"\frac{3}{4}", True),
    ("0.75", "3/4", True),
    ("-0.75", r"-\frac{3}{4}", True),
    ("-0.75", r"\frac{3}{4}", False),
    ("50", r"50\%", True),
    ("0.5", r"50\%", False),
    (r"\frac{1}{2}", r"50\%", False),
    ("7", "x = 7", True),
    ("7", "x = 8", False),
    (r"2\sqrt{5}", r"\sqrt{20}", True),
    (r"2\sqrt{5}", r"\sqrt{10}", False),
    (r"\frac{\sqrt{3}}{2}", r"\dfrac{\sqrt3}{2}", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("x^2+2x+1", "(x-1)^2", False),
    (r"\{-2, 3\}", r"\{3, -2\}", True),
    (r"\{-2, 3\}", r"\{2, 3\}", False),
    ("(1,2]", r"\left( 1, 2 \right]", True),
    ("(1,2]", "[1,2)", False),
    ("(1,2)", r"\{1,2\}", False),
    (r"1 + \frac{1}{e}", r"1 - \frac{1}{e}", False),
    (r"\frac{1}{2004!}", r"\frac{1}{2006!}", False),
    (r"\frac{1}{10^8}", "0.00000002", False),
    (r"\pi", "3.14", False),
    (r"\pi", "3.141593", True),
]:
    math("forms", gold, rf"\boxed{{{pred}}}", ok)

# --- multiple choice -----------------------------------------------------------------------------
for letter in "BDGJ":
    other = "A" if letter != "A" else "C"
    for template in (
        "Answer: {L}",
        "The answer is ({L}).",
        "The answer is \\( {L} \\).",
        "The answer is $\\boxed{{\\text{{{L}. }}}}$",
        "\\boxed{{{L}}}",
        "Final answer: **{L}**",
        "After weighing them, I would go with option {L}",
        "The result is [2, 2], which corresponds to option {L}.",
        "Looking at each option in turn, the best fit is\n\n{L}. The last one listed",
        "The answer is ({L}).\n\nLet me restate what the answer is:",
        "I think the answer is {L} because the others fail.",
    ):
        choice("choice_named", letter, template.format(L=letter), True)
        choice("choice_named", other, template.format(L=letter), False)
for gold in "EF":
    choice("choice_ambiguous", gold, "It is either (E) or (F).", False)
    choice("choice_ambiguous", gold, "The answer is E or F.", False)
    choice("choice_ambiguous", gold, r"\boxed{E}\boxed{F}", False)
    choice("choice_ambiguous", gold, "\\boxed{E}\n\nFinal answer: F", False)
for gold in "DI":
    choice("choice_ambiguous", gold, "Both (D) fit here and (I) does too.", False)
choice("choice_ambiguous", "C", "Options (A) and (B) are wrong, so (C).", True)
choice("choice_ambiguous", "C", "(B) is wrong and (C) is right.", True)
choice("choice_ambiguous", "B", "(B) is wrong and (C) is right.", False)
for gold, content in [
    ("F", "Since P(F) = 0.2 the event is unlikely."),
    ("A", r"We compute \det(A) = 5 to finish."),
    ("F", r"So $\boxed{f(x) = 2}$."),
    ("A", r"\boxed{P(A)=0.5}"),
    ("B", r"Thus $\boxed{g(B) = 3}$."),
    ("C", r"The value is \boxed{C(5,2) = 10}."),
    ("E", r"The answer is \boxed{E = mc^2}."),
    ("B", "A) 1\nB) 2\nC) 3"),
    ("A", "I cannot decide between them."),
]:
    choice("choice_not_an_answer", gold, content, False)
choice("choice_not_an_answer", "B", "Since P(F) = 0.2, the answer is (B).", True)
choice("choice_not_an_answer", "B", r"With \det(A) = 5 we pick \boxed{B}.", True)
choice("choice_not_an_answer", "B", "Options:\nA) 1\nB) 2\nC) 3\nSo I pick (B) as it fits.", True)
choice("choice_not_an_answer", "B", "B) Paris", True)
choice("choice_not_an_answer", "B", "Answer: Ｂ", True)

# --- short answers -------------------------------------------------------------------------------
for gold, content, ok, aliases in [
    ("Paris", "The answer is Paris.", True, None),
    ("Paris", "The answer is paris", True, None),
    ("Paris", r"\boxed{\text{Paris}}", True, None),
    ("Paris", "Paris", True, None),
    ("Paris", "Paris.", True, None),
    ("Paris", "The answer is London", False, None),
    ("Paris", "The answer is not Paris", False, None),
    ("Paris", "Answer: Paris, because it is the capital of France.", True, None),
    ("Paris", "Answer: Lyon, because it is larger.", False, None),
    ("Paris", r"\boxed{\text{Paris}} or maybe \boxed{\text{Lyon}}", False, None),
    ("Paris", "...", False, None),
    ("Eiffel Tower", "The answer is the Eiffel Tower.", True, None),
    ("Eiffel Tower", "The answer is the Eiffel.", False, None),
    ("New York City", "Answer: NYC", True, ["NYC"]),
    ("New York City", "Answer: LA", False, ["NYC"]),
    ("George Washington", "**Answer:** George Washington", True, None),
    ("George Washington", "**Answer:** John Adams", False, None),
    ("Washington, D.C.", "The answer is Washington, D.C.", True, None),
    ("St. Louis", "Answer: St. Louis", True, None),
    ("oxygen", "Answer: Oxygen (O2).", True, None),
    ("oxygen", "Answer: Nitrogen.", False, None),
    ("mitochondria", "The answer is: the mitochondria", True, None),
    ("mitochondria", "The answer is: the ribosome", False, None),
    ("blue", "Final answer: Blue", True, None),
    ("blue", "Final answer: Red", False, None),
    ("Shakespeare", "It was written by someone.\nAnswer: Shakespeare", True, None),
    ("Shakespeare", "Answer: Shakespeare\n\nWait, the answer is Marlowe.", False, None),
]:
    short("short_answer", gold, content, ok, aliases)


if __name__ == "__main__":
    with OUT.open("w", encoding="utf-8") as out:
        for row in ROWS:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(ROWS)} rows -> {OUT}")

"""Multiple choice for the answer grader: which option letter the answer names.

Follows research/graders.md §3.3: the letters named as the final answer, restricted to the valid
letters; two different letters fail as ambiguous. Where they are looked for, in order:
- every `\\boxed{}` that holds a letter answer (`B`, `(B) Paris`, `\\text{J. }`; not the `A` of
  `\\boxed{P(A) = 0.5}`), together with the last answer phrase ("answer is", "Answer:") that names
  a letter (a later phrase with no letter after it does not erase it);
- a short answer that is the letter alone ("B", "(B) Paris");
- the last option named in the text: `(B)`, `**B**`, `\\( B \\)`, "option G", or a final line
  "D. text" that is not part of a list of the options. Options joined to it by "or"/"and"
  ("either (E) or (F)") make it ambiguous. A letter that is a function's argument (`P(F)`,
  `\\det(A)`) is not an option.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from distill.boxed import all_boxed
from distill.grade.answer_extract import anchor_tails

DEFAULT_LETTERS = "ABCDEFGHIJ"  # up to MMLU-Pro's ten options

_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|boxed|fbox)\s*\{([^{}]*)\}")
_DELIMITERS = re.compile(r"\$|\\[()\[\]]")
# One option token: `B`, `(B)`, `B)`, `**B**`, `[B]`, `option B`, `B.`
_LETTER = re.compile(
    r"[\s*_$]*(?:(?:option|choice)\s+)?(?P<open>[(\[]?)[\s*_]*(?P<letter>[A-Za-z])(?![A-Za-z0-9])"
    r"[\s*_]*(?P<close>[)\]]?)[.:]?"
)
_SEPARATOR = re.compile(r"\s*(?:,|;|/|&|\band\b|\bor\b)\s*", re.IGNORECASE)
_LEAD = re.compile(r"\s*(?:either|both|options?|choices?)\s+", re.IGNORECASE)
# a box that is a letter answer: the letter, then nothing, or option text after `)`, `.` or `:`
_BOXED_LETTER = re.compile(
    r"\s*(?:(?:option|choice)\s+)?[(\[]?\s*[A-Za-z]\s*(?:[)\]]\s*(?:\S.*)?|[.:]\s*(?:\S.*)?)?"
    r"(?:\s*(?:,|;|/|&|\band\b|\bor\b)\s*[(\[]?\s*[A-Za-z]\s*[)\]]?)*\s*",
    re.IGNORECASE | re.DOTALL,
)
_FALLBACK = re.compile(
    r"(?<![A-Za-z\\])\(\s*([A-Z])\s*\)(?![A-Za-z])|\*\*([A-Z])\*\*|\\\(\s*([A-Z])\s*\\\)"
    r"|\b(?:option|choice)\s+\(?([A-Z])\b\)?"
)
_OPTION_LINE = re.compile(r"\s*[*_]*([A-Z])[.)][*_]*\s+\S")  # "D. text", "D) text"
_LISTED = re.compile(r"\s*[*_]*\(?([A-Z])[.)][*_]*\s+\S")  # any line of a list of options
# a letter that is a symbol: `E = mc^2`, `P(A)`, `x^2`
_SYMBOL = re.compile(r"\s*[=+\-*/^_<>|]|\(")
# what may stand between two options named together: "(E) or (F)", "(D) fits and (I)"
_JOINED = re.compile(r"[^.;:!?\n]{0,40}?\b(?:or|and|nor)\b[^.;:!?\n]{0,20}", re.IGNORECASE)
_UNJOINED = re.compile(
    r"\b(?:so|thus|therefore|hence|not|n't|wrong|incorrect|false|eliminat\w*|rule\w*)\b",
    re.IGNORECASE,
)


def valid_letters(reference: dict[str, Any], options: dict[str, Any]) -> str:
    """The letters an answer may name: the `choices` option, else the task's choices, else A–J."""
    given = options.get("choices", reference.get("choices"))
    if isinstance(given, str) and given:
        return "".join(c for c in given.upper() if c.isalpha())
    if isinstance(given, dict) and given:
        return "".join(str(k).strip().upper() for k in given)
    if isinstance(given, list) and given:
        if all(isinstance(c, str) and len(c.strip()) == 1 for c in given):
            return "".join(c.strip().upper() for c in given)
        return DEFAULT_LETTERS[: len(given)]  # option texts: lettered in order
    return DEFAULT_LETTERS


def gold_letter(expected: Any, reference: dict[str, Any]) -> str | None:
    text = str(expected).strip()
    letters = _letters(text, strict=False)
    if len(letters) == 1 and len(text.strip("()[]*. ")) == 1:
        return letters[0]
    choices = reference.get("choices")
    if isinstance(choices, dict):  # the answer given as the option text
        for key, value in choices.items():
            if str(value).strip().lower() == text.lower():
                return str(key).strip().upper()
    return None


def grade_choice(content: str, gold: str, valid: str) -> tuple[str, str, dict[str, Any]]:
    text = unicodedata.normalize("NFKC", content)  # full-width Ｂ is B
    found: list[tuple[str, list[str]]] = []
    for box in all_boxed(text):
        inner = _WRAPPER.sub(r"\1", box.content)
        if _BOXED_LETTER.fullmatch(_DELIMITERS.sub("", inner)):
            found.append(("boxed", _letters(inner, strict=False)))
    for tail in anchor_tails(text):
        letters = _letters(tail, strict=True)
        if letters:
            found.append(("anchor", letters))
            break
    found = [(how, letters) for how, letters in found if letters]
    whole = _DELIMITERS.sub("", _WRAPPER.sub(r"\1", _WRAPPER.sub(r"\1", text.strip())))
    if not found and len(whole) <= 20 and "\n" not in whole and _BOXED_LETTER.fullmatch(whole):
        found = [("whole", _letters(whole, strict=False))]
    if not found or not found[0][1]:
        found = [("pattern", _last_named(text))]
    extraction = "+".join(dict.fromkeys(how for how, _ in found))
    named = sorted({letter for _, letters in found for letter in letters})
    details: dict[str, Any] = {"rule": "choice", "extraction": extraction, "valid": valid}
    if not named:
        return "fail", "no_answer", details
    details["extracted"] = ",".join(named)
    if len(named) > 1:
        return "fail", "ambiguous_choice", details
    if named[0] not in valid:
        return "fail", "invalid_choice", details
    if named[0] == gold:
        return "pass", "choice", details
    return "fail", "wrong_answer", details


def _last_named(text: str) -> list[str]:
    """The last option the text names, with any named together with it."""
    hits = [
        (m.start(), m.end(), next(g for g in m.groups() if g)) for m in _FALLBACK.finditer(text)
    ]
    lines = [line for line in text.rstrip().split("\n") if line.strip()]
    last_line = _OPTION_LINE.match(lines[-1]) if lines else None
    listed = len(lines) > 1 and _LISTED.match(lines[-2])
    if last_line and not listed:  # "…\n\nD. The mitochondria", not "A) 1\nB) 2\nC) 3"
        start = len(text.rstrip()) - len(lines[-1])
        hits = sorted([*hits, (start, start + 2, last_line[1])])
    if not hits:
        return []
    named = [hits[-1][2]]
    for before, after in zip(reversed(hits[:-1]), reversed(hits[1:]), strict=True):
        between = text[before[1] : after[0]]
        if not _JOINED.fullmatch(between) or _UNJOINED.search(between):
            break
        named.append(before[2])
    return named


def _letters(span: str, *, strict: bool) -> list[str]:
    """The option letters a final-answer span starts with: `B`, `(A) and (C)`, `B or D`.

    With `strict` (prose after "answer is"), a bare lowercase letter counts only when nothing
    follows it, and a bare `I` followed by a lowercase word is the pronoun.
    """
    span = _DELIMITERS.sub("", _WRAPPER.sub(r"\1", _WRAPPER.sub(r"\1", span)))
    letters: list[str] = []
    pos = lead.end() if (lead := _LEAD.match(span)) else 0
    while True:
        match = _LETTER.match(span, pos)
        if match is None:
            break
        letter, wrapped = match["letter"], bool(match["open"] or match["close"])
        rest = span[match.end("letter") :]
        if not wrapped and _SYMBOL.match(rest):
            break
        if strict and not wrapped:
            if letter.islower() and rest.strip(" .!*_"):
                break
            if letter == "I" and re.match(r"\s+[a-z]", rest):
                break
        letters.append(letter.upper())
        sep = _SEPARATOR.match(span, match.end())
        if sep is None:
            break
        pos = sep.end()
    return letters

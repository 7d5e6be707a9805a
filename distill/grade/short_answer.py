"""Short answers settled without sympy, for the answer grader: letters, phrases, exact numbers.

`grade_choice` and `grade_short` return `(status, reason, details)`; `answer.grade` wraps them
into a Verdict. `exact_gap` compares two exact numbers (or sets of them) with mpmath.
Choice follows research/graders.md §3.3: the last explicit letter in the answer part, restricted to
the valid letters, and two different letters given as the final answer fail as ambiguous.
Short answers use the SQuAD normalisation (lowercase, no punctuation, no articles, single spaces).
"""

from __future__ import annotations

import importlib
import re
import string
import threading
import unicodedata
from functools import lru_cache
from typing import Any

DEFAULT_LETTERS = "ABCDEFGHIJ"  # up to MMLU-Pro's ten options
EXACT_TOL = 1e-30  # relative gap at 120 digits under which two exact numbers are equal

# "the answer is", "Answer:", "**Final Answer:**", or a "Final Answer" heading on its own line
ANCHOR = re.compile(
    r"\banswers?\b[^\n:=]{0,40}?(?:\bis\b[ \t]*:?|:)|\bfinal\s+answer\b[*_ \t]*(?=\n)",
    re.IGNORECASE,
)
_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|boxed|fbox)\s*\{([^{}]*)\}")
# One option token: `B`, `(B)`, `B)`, `**B**`, `[B]`, `option B`, `B.`
_LETTER = re.compile(
    r"[\s*_$]*(?:(?:option|choice)\s+)?(?P<open>[(\[]?)[\s*_]*(?P<letter>[A-Za-z])(?![A-Za-z0-9])"
    r"[\s*_]*(?P<close>[)\]]?)[.:]?"
)
_SEPARATOR = re.compile(r"\s*(?:,|;|/|&|\band\b|\bor\b)\s*", re.IGNORECASE)
# No anchor: the last `(B)` or `**B**` (not `B)` at a line start: that is how options are listed)
_FALLBACK = re.compile(r"\(([A-Z])\)|\*\*([A-Z])\*\*")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


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


def anchor_tail(content: str) -> str | None:
    """What follows the last "answer is" / "answer:" (the next line if that one is empty)."""
    match = None
    for match in ANCHOR.finditer(content):  # noqa: B007 - the last one is wanted
        pass
    if match is None:
        return None
    lines = content[match.end() :].split("\n")
    for line in lines[:3]:
        if line.strip(" \t*_:"):
            return line.strip(" \t*_:")
    return None


# --- multiple choice ----------------------------------------------------------------------------


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
    boxed = last_boxed(text)
    if boxed is not None:
        found.append(("boxed", _letters(boxed, strict=False)))
    tail = anchor_tail(text)
    if tail is not None:
        found.append(("anchor", _letters(tail, strict=True)))
    found = [(how, letters) for how, letters in found if letters]
    if not found and len(text.strip()) <= 20 and "\n" not in text.strip():  # "B", "(B) Paris"
        found = [("whole", _letters(text.strip(), strict=False))]
    if not found or not found[0][1]:
        hits = [next(g for g in m.groups() if g) for m in _FALLBACK.finditer(text)]
        found = [("pattern", hits[-1:])]
    extraction = "+".join(how for how, _ in found)
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


def _letters(span: str, *, strict: bool) -> list[str]:
    """The option letters a final-answer span starts with: `B`, `(A) and (C)`, `B or D`.

    With `strict` (prose after "answer is"), a bare lowercase letter counts only when nothing
    follows it, and a bare `I` followed by a lowercase word is the pronoun.
    """
    span = _WRAPPER.sub(r"\1", span).replace("$", "")
    letters: list[str] = []
    pos = 0
    while True:
        match = _LETTER.match(span, pos)
        if match is None:
            break
        letter, wrapped = match["letter"], bool(match["open"] or match["close"])
        rest = span[match.end("letter") :]
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


# --- short answers ------------------------------------------------------------------------------


def squad_normalise(text: str) -> str:
    text = _WRAPPER.sub(r"\1", text).replace("$", "")
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def grade_short(content: str, golds: list[str]) -> tuple[str, str, dict[str, Any]]:
    details: dict[str, Any] = {"rule": "short"}
    boxed = last_boxed(content)
    tail = anchor_tail(content) if boxed is None else None
    lines = [line for line in content.strip().splitlines() if line.strip()]
    if boxed is not None:
        answer, details["extraction"] = boxed, "boxed"
    elif tail is not None:
        answer, details["extraction"] = tail, "anchor"
    elif lines:
        answer, details["extraction"] = lines[-1], "whole" if len(lines) == 1 else "last_line"
    else:
        answer, details["extraction"] = "", "none"
    normalised = squad_normalise(answer)
    if not normalised:
        return "fail", "no_answer", details
    details["extracted"] = answer.strip()
    if normalised in {squad_normalise(g) for g in golds}:
        return "pass", "short", details
    return "fail", "wrong_answer", details


# --- exact numbers: integers, + - × ÷ ^, \frac, \sqrt, \pi ---------------------------------------

_TOKEN = re.compile(r"\s*(\\(?:frac|sqrt|pi|cdot|times)(?![A-Za-z])|\d+|[-+*/^(){}\[\]])")
_STARTS_FACTOR = ("\\frac", "\\sqrt", "\\pi", "(", "{")
_local = threading.local()  # mpmath precision is context state: one context per thread


def exact_gap(gold: str, pred: str) -> tuple[bool, str, str] | None:
    """(equal, gold, pred as values) when both sides are exact numbers `_Parser` reads, or sets
    `\\{…\\}` of them. Such answers are common (`2\\sqrt{5}`, `\\frac{3\\pi}{4}`, `\\{-2, 3\\}`):
    mpmath settles them in microseconds where sympy takes milliseconds (50 ms for a set). The rest
    (a decimal, a symbol, an interval, `e`, `!`) goes to math-verify.
    """
    a, b = _exact_items(gold), _exact_items(pred)
    if a is None or b is None or a[0] != b[0]:
        return None
    mp = _mp()

    def close(x: Any, y: Any) -> bool:
        return bool(abs(x - y) <= EXACT_TOL * max(abs(x), abs(y)))

    def unique(items: tuple[Any, ...]) -> list[Any]:  # a set lists each value once
        values = sorted(items)
        return [v for i, v in enumerate(values) if i == 0 or not close(values[i - 1], v)]

    with mp.workdps(120):
        xs, ys = unique(a[1]), unique(b[1])
        equal = len(xs) == len(ys) and all(map(close, xs, ys))
        return equal, ", ".join(mp.nstr(v, 15) for v in xs), ", ".join(mp.nstr(v, 15) for v in ys)


@lru_cache(maxsize=4096)  # the k samples of a task repeat the gold and often the answer
def _exact_items(text: str) -> tuple[bool, tuple[Any, ...]] | None:
    """(is a set, its values) for an exact number or a set of them, else None."""
    text = text.strip()
    is_set = text.startswith("\\{") and text.endswith("\\}")
    inner = text[2:-2] if is_set else text
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += (char in "({[") - (char in ")}]")
        if is_set and char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    values = [exact_value(part) for part in [*parts, inner[start:]]]
    return None if any(v is None for v in values) else (is_set, tuple(values))


def exact_value(text: str) -> Any:
    """The value (an mpmath number) of such an expression, or None when unsupported or unstable."""
    tokens: list[str] = []
    text, pos = text.strip(), 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or len(tokens) >= 200:
            return None
        tokens.append(match[1])
        pos = match.end()
    mp = _mp()
    try:
        with mp.workdps(80):
            low = _Parser(tokens, mp).run()
        with mp.workdps(120):
            high = _Parser(tokens, mp).run()
            # cancellation (`\sqrt{10^{40}+1} - 10^{20}`) shows as digits that move with precision
            if abs(low - high) > abs(high) * 1e-60 or (low == 0) != (high == 0):
                return None
    except (ValueError, ZeroDivisionError, OverflowError):  # ValueError: not in the grammar
        return None
    return high


def _mp() -> Any:
    if getattr(_local, "mp", None) is None:
        _local.mp = importlib.import_module("mpmath").MPContext()
    return _local.mp


class _Parser:
    r"""expr := term (± term)*; term := factor ((× | ÷ | juxtaposition) factor)*;
    factor := ± factor | atom (^{expr} | ^digit)?; atom := int | \pi | (expr) | {expr} |
    \frac{expr}{expr} | \sqrt[expr]{expr}. Readings a reader could doubt are refused:
    `1/2\pi`, `2 3`, `2^3^2`, `2^10`."""

    def __init__(self, tokens: list[str], mp: Any) -> None:
        self.tokens, self.i, self.mp = tokens, 0, mp

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self, expected: str = "") -> str:
        token = self.peek()
        if not token or (expected and token != expected):
            raise ValueError(token)
        self.i += 1
        return token

    def run(self) -> Any:
        value = self.expr()
        if self.i != len(self.tokens):
            raise ValueError(self.peek())
        return value

    def expr(self) -> Any:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> Any:
        value, divided = self.factor(), False
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times", "/"):
                self.take()
                other = self.factor()
                divided = divided or token == "/"
                value = value / other if token == "/" else value * other
            elif token in _STARTS_FACTOR and not divided:
                value = value * self.factor()
            elif token and (token in _STARTS_FACTOR or token[0].isdigit()):
                raise ValueError(token)  # `1/2\pi`, `2 3`
            else:
                return value

    def factor(self) -> Any:
        if self.peek() in ("+", "-"):
            return -self.factor() if self.take() == "-" else self.factor()
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        exponent = self.group() if self.peek() == "{" else self.mp.mpf(self.take())
        last = self.tokens[self.i - 1]
        if not (last == "}" or (len(last) == 1 and last.isdigit())) or self.peek() == "^":
            raise ValueError("^")  # `2^10` is 2^1 0 in LaTeX; `2^3^2` is an error there
        if abs(exponent) > 10_000 or (base < 0 and exponent % 1):
            raise ValueError("^")
        return self.mp.power(base, exponent)

    def group(self) -> Any:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def atom(self) -> Any:
        token = self.take()
        if token.isdigit():
            return self.mp.mpf(int(token))
        if token == "\\pi":
            return +self.mp.pi
        if token in ("(", "{"):
            value = self.expr()
            self.take(")" if token == "(" else "}")
            return value
        if token == "\\frac":
            return self.group() / self.group()
        if token != "\\sqrt":
            raise ValueError(token)
        degree = self.mp.mpf(2)
        if self.peek() == "[":
            self.take()
            degree = self.expr()
            self.take("]")
        radicand = self.group()
        if degree % 1 or not 2 <= degree <= 100 or radicand < 0:
            raise ValueError("\\sqrt")
        return self.mp.root(radicand, int(degree))

"""Exact numbers settled without sympy: integers, + - × ÷ ^, \\frac, \\sqrt, \\pi, at 120 digits.

`exact_gap` compares two such numbers (or sets `\\{…\\}` of them) with mpmath in microseconds,
where sympy takes milliseconds. Two integer values compare exactly, whatever their size: a relative
tolerance would make 2^{100}+1 equal 2^{100}.
"""

from __future__ import annotations

import importlib
import re
import threading
from functools import lru_cache
from typing import Any

EXACT_TOL = 1e-30  # relative gap at 120 digits under which two exact numbers are equal

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
        scale = max(abs(x), abs(y))
        if abs(x - y) > EXACT_TOL * scale:
            return False
        # past 10^25 integers one apart are within the tolerance; 120 digits still tell them apart
        whole = all(abs(v - mp.nint(v)) < 1e-10 for v in (x, y))
        return not (1e25 <= scale < 1e100 and whole) or bool(mp.nint(x) == mp.nint(y))

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

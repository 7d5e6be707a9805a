"""LaTeX clean-up, units and plain numbers for the answer grader.

`normalise` is applied to both sides. `split_unit` takes a trailing unit off (`5\\text{ cm}`,
`12 apples`, `3 m/s`, `45^\\circ`), keyed so that `cm`, `centimeter` and `centimetres` are one
unit and `cm` and `m` are two. `to_number` reads plain numbers: integers, decimals, thousands
separators, `a/b`, `\\frac{a}{b}` and mixed numbers (`3\\frac{1}{2}`, `3 1/2`), with `$`, `%`
and `x =` stripped. An integer reference compares exactly (`abs_tol` only): a relative tolerance
would make 1000000008 equal 1000000007.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

_NUM = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?"
_PLAIN = re.compile(_NUM)
_SLASH = re.compile(rf"({_NUM})\s*/\s*({_NUM})")
_FRAC = re.compile(rf"(-?)\\frac\{{\s*({_NUM})\s*\}}\{{\s*({_NUM})\s*\}}")
_MIXED = re.compile(r"(-?)(?:\((\d+)\+\\frac\{(\d+)\}\{(\d+)\}\)|(\d+)\s+(\d+)/(\d+))")
_SPACING = re.compile(r"(?<!\\)\\[,!;:> ]|\\q?quad\b|\\left\b|\\right\b")
_LETTER_WRAP = re.compile(r"\\(?:mathrm|text|mathit|operatorname)\s*\{\s*([A-Za-z])\s*\}")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_ASSIGNMENT = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*")
# digits grouped by (thin) spaces: `1 000 000` is one number
_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u2009\u202f\u00a0]\d{3})+(?![\d/]|\.\d| \d)")
# `3\frac{1}{2}` is three and a half (a proper fraction after a whole number, not a product)
_MIXED_LATEX = re.compile(r"(?<![\w^}.)\]\\])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}")
_UNICODE = {"π": "\\pi ", "−": "-", "×": "\\times ", "·": "\\cdot ", "∞": "\\infty ", "√": "\\sqrt"}

_UNIT_WORDS = r"[A-Za-z°$¢][A-Za-z./°]*(?:\s*\^\s*\{?[23]\}?|[²³])?"
_TEXT_UNIT = re.compile(
    rf"^(?P<value>.*?\S)\s*(?P<unit>(?:\\(?:text|mbox|mathrm)\s*\{{\s*(?:{_UNIT_WORDS}\s*)+\}}"
    r"(?:\s*\^\s*\{?[23]\}?)?)+)$"
)
_WORD_UNIT = re.compile(
    rf"^(?P<value>.*?[\d}}])\s*(?P<unit>{_UNIT_WORDS}(?:\s+{_UNIT_WORDS}){{0,2}})$"
)
_DEGREES = re.compile(r"^(?P<value>.*?)\s*(?:\^\s*\{?\s*\\circ\s*\}?|°)$")
_DOLLAR = re.compile(r"^(-?)\\?\$\s*(?=[\d.])")
_ALIASES = {
    "m": "meter metre",
    "cm": "centimeter centimetre",
    "mm": "millimeter millimetre",
    "km": "kilometer kilometre",
    "g": "gram gramme",
    "kg": "kilogram kilo",
    "mg": "milligram",
    "s": "second sec",
    "min": "minute",
    "h": "hour hr",
    "L": "l liter litre",
    "mL": "ml milliliter millilitre",
    "in": "inch inche",
    "ft": "foot feet",
    "yd": "yard",
    "mi": "mile",
    "lb": "pound lbs",
    "oz": "ounce",
    "deg": "degree ° \\circ",
    "$": "dollar usd \\$",
    "cent": "¢",
}
_UNIT_KEY = {alias: key for key, aliases in _ALIASES.items() for alias in [key, *aliases.split()]}
# single letters that are units; any other (`x`, `n`) is a variable
_LETTER_UNITS = frozenset("msgh") | frozenset("LKVWJN")
_NOT_AFTER = frozenset(["in", "s", "h", "g", "l", "min", "mi"])  # `5 in total`, `5 s and`


@lru_cache(maxsize=8192)  # the k samples of a task repeat the gold and often the answer
def normalise(text: str) -> str:
    """LaTeX clean-up shared by both sides: delimiters, markdown, spacing, `\\dfrac`, `\\frac12`."""
    text = text.strip()
    for _ in range(2):  # "**$42$.**": markdown, math delimiters and a full stop, in any order
        text = text.strip("*").rstrip(".").strip().strip("$").strip()
        for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
            if text.startswith(left) and text.endswith(right):
                text = text[2:-2].strip()
    for char, latex in _UNICODE.items():
        text = text.replace(char, latex)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", ",")
    text = _SPACING.sub("", text)  # not `\\ `: a matrix row break must survive
    text = _GROUPED.sub(lambda m: re.sub(r"\D", "", m[0]), text)
    # `\mathrm{e}`: math-verify's unit stripping eats it and then misreads `1 - 1/e` as 1
    text = _LETTER_WRAP.sub(r"\1", text)
    # math-verify runs with malformed_operators off; mend the two unambiguous digit shorthands
    text = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\sqrt\s*(\d)", r"\\sqrt{\1}", text)
    text = _MIXED_LATEX.sub(_mixed, text)
    return text.rstrip(".").strip()


def _mixed(match: re.Match[str]) -> str:
    whole, num, den = match.groups()
    if int(num) >= int(den) or int(den) == 0:
        return match[0]  # `2\frac{3}{2}` is not how a mixed number is written: leave it
    return f"({whole}+\\frac{{{num}}}{{{den}}})"


def canonical(text: str) -> str:
    text = re.sub(r"\s+", "", _TEXT_WRAP.sub(r"\1", text))
    return re.sub(r"([\^_])\{(\w)\}", r"\1\2", text)  # x^{2} is x^2 (but x^{10} is not x^10)


def strip_percent(text: str) -> str:
    return re.sub(r"\s*\\?%$", "", text)


@lru_cache(maxsize=8192)
def split_unit(text: str) -> tuple[str, str | None]:
    """(the value, its unit's key or None) for a normalised answer."""
    text = text.strip()
    if match := _DOLLAR.match(text):
        return match[1] + text[match.end() :], "$"
    if match := _DEGREES.match(text):
        return match["value"], "deg"
    if match := _TEXT_UNIT.match(text):
        unit = " ".join(_TEXT_WRAP.sub(r" \1 ", match["unit"]).split())
        return match["value"], unit_key(unit)
    if (match := _WORD_UNIT.match(text)) and _is_value(match["value"]):
        words = match["unit"].split()
        plain = _plain_number(match["value"])
        known = _known(unit_key(match["unit"]))
        # a count noun (`12 apples`) after a plain number; a known unit after any value
        if known and (len(words) > 1 or len(words[0]) > 1 or words[0] in _LETTER_UNITS):
            return match["value"], unit_key(match["unit"])
        if plain and all(len(w) > 1 for w in words) and not match["unit"].startswith("\\"):
            return match["value"], unit_key(match["unit"])
    return text, None


def unit_key(unit: str) -> str:
    """`centimetres` → `cm`, `square meters` → `m^2`, `km/h` → `km/h`; unknown words lowercased."""
    unit = unit.strip().replace("²", "^2").replace("³", "^3")
    unit = re.sub(r"\s*\^\s*\{?([23])\}?", r"^\1", unit)
    power = ""
    if match := re.fullmatch(r"(?:(square|sq\.?)|(cubic|cu\.?))\s+(.+)", unit, re.IGNORECASE):
        power, unit = ("^2" if match[1] else "^3"), match[3]
    elif match := re.fullmatch(r"(.+?)(\^[23])", unit):
        unit, power = match[1], match[2]
    if "/" in unit or " per " in unit:
        parts = re.split(r"\s*/\s*|\s+per\s+", unit)
        return "/".join(unit_key(p) for p in parts) + power
    key = _UNIT_KEY.get(unit)
    if key is None:
        word = unit.lower()
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # meters, apples
        key = _UNIT_KEY.get(word, word)
    return key + power


def is_unit(word: str) -> bool:
    """Whether a word written after a number is a known unit (`cm`, `\\text{ meters}`, `km/h`);
    not the English words some abbreviations spell (`in`, `s`)."""
    word = _TEXT_WRAP.sub(r"\1", word).strip()
    return word not in _NOT_AFTER and _known(unit_key(word))


def _known(key: str) -> bool:
    return all(part.split("^")[0] in _ALIASES for part in key.split("/"))


def _is_value(text: str) -> bool:
    return bool(re.search(r"\d", text)) and not re.search(r"[=+\-*/^(]\s*$", text)


def _plain_number(text: str) -> bool:
    text = _DOLLAR.sub(r"\1", text.strip())
    return bool(_PLAIN.fullmatch(text) or _SLASH.fullmatch(text) or _FRAC.fullmatch(text))


@lru_cache(maxsize=8192)
def to_number(text: str) -> tuple[Fraction, bool] | None:
    """(value, was a percentage) for a plain number, or None. `$`, units, degrees, `x =` go."""
    text = _ASSIGNMENT.sub("", text.strip())
    text = split_unit(text)[0].replace("\\$", "").replace("$", "").strip()
    percent = text.endswith("%")
    if percent:
        text = strip_percent(text)
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
        if (match := _MIXED.fullmatch(text)) and (match[2] or int(match[6]) < int(match[7])):
            sign = match[1]
            whole, num, den = match.groups()[1:4] if match[2] else match.groups()[4:7]
            value = int(whole) + Fraction(int(num), int(den))
            return (-value if sign else value), percent
    except (ValueError, ZeroDivisionError):
        return None
    return None


def numbers_match(
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


def _close(gold: Fraction, pred: Fraction, opts: dict[str, Any]) -> bool:
    # Fractions throughout: 10**400 would overflow a float
    if gold == pred:
        return True
    rel = Fraction(0) if gold.denominator == 1 else Fraction(opts["rel_tol"])
    tolerance = max(rel * max(abs(gold), abs(pred)), Fraction(opts["abs_tol"]))
    return abs(gold - pred) <= tolerance

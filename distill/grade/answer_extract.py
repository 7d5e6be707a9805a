"""Where the final answer is in a math answer: boxes, answer phrases, math spans, bare numbers.

In order: every `\\boxed{}` (one value, or several side by side that together form the answer, or
different values: ambiguous); else the last "answer is" / "answer:" that is followed by an answer
(in "The largest $n$ is 34." the value after the last "is"); else whichever comes last of the
final line (when it is a bare expression), the last math span (`$…$`, `\\(…\\)`, `\\[…\\]`, taken
whole: the 2 of `$\\frac{1+\\sqrt5}{2}$` is no answer) and the last number standing as a word of
its own (not the 2 of `AZYUK2A` or `2π`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from distill.boxed import all_boxed, unclosed_box
from distill.grade.answer_numbers import is_unit

# "the answer is", "Answer:", "**Final Answer:**", or a "Final Answer" heading on its own line
ANCHOR = re.compile(
    r"\banswers?\b[^\n:=]{0,40}?(?:\bis\b[ \t]*:?|:)|\bfinal\s+answer\b[*_ \t]*(?=\n)",
    re.IGNORECASE,
)
MATH_SPAN = re.compile(
    r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL
)
CLAUSE_END = re.compile(
    r"\.(?:\s|$)|[;!?](?:\s|$)|,?\s+(?:because|since|as|which|where|so|given|but|and\s+(?:so|thus|hence))\b"
    r"|\s+\((?!\s*[\d\\])"
)
_COPULA = re.compile(r"\s(?:is|are|was|equals?|be|becomes|gives)\s+|\s=\s", re.IGNORECASE)
# boxes side by side: `\boxed{1}, \boxed{2}`, `$\boxed{1}$ and $\boxed{2}$`
_BOX_GAP = re.compile(r"[\s,;$]*(?:(?:and|&|or|\\text\{\s*(?:and|,)\s*\})[\s,;$]*)?")
# a number that is a word of its own: not inside `AZYUK2A`, not the 2 of `2π` or `2x`
_BARE_NUMBER = re.compile(
    r"(?<![\w.\\^_/])-?(?:\d{1,3}(?:[, \u2009\u202f]\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?"
    r"(?![\w\\π]|\.\d|/\d|[,\u2009\u202f]\d{3})"
)
_UNIT_AFTER = re.compile(
    r"[ \t]*(\\(?:text|mathrm|mbox)\{[^{}]*\}|[A-Za-z°][A-Za-z]*(?:/[A-Za-z]+)?)"
)
_PLACEHOLDER = "\x00{}\x00"


@dataclass(frozen=True, slots=True)
class Extracted:
    values: list[str] = field(default_factory=list)  # one answer, or several boxed ones
    how: str = "none"  # boxed | anchor | math_span | final_line | last_number | none
    side_by_side: bool = False  # several boxes with only commas or "and" between them

    @property
    def text(self) -> str:
        return ", ".join(self.values)


def extract_math(content: str) -> Extracted:
    if unclosed_box(content):  # cut off mid-box: the earlier boxes were drafts
        return Extracted(how="unclosed_box")
    boxes = [b for b in all_boxed(content) if b.content.strip()]
    if boxes:
        values = list(dict.fromkeys(b.content.strip() for b in boxes))
        gaps = (content[a.end : b.start] for a, b in itertools.pairwise(boxes))
        return Extracted(values, "boxed", all(_BOX_GAP.fullmatch(gap) for gap in gaps))
    for tail in anchor_tails(content):
        value = anchor_value(tail)
        if value and _answer_like(value):
            return Extracted([value], "anchor")
    return _fallback(content)


def anchor_tails(content: str) -> Iterator[str]:
    """What follows each "answer is" / "answer:" (the next line if this one is empty), last
    first."""
    for match in reversed(list(ANCHOR.finditer(content))):
        lines = content[match.end() :].split("\n")
        for line in lines[:3]:
            if line.strip(" \t*_:"):
                yield line.strip(" \t*_:")
                break


def anchor_value(tail: str) -> str:
    """The answer in the sentence after an anchor: its math span, or the value after "is"."""
    spans: list[str] = []

    def hide(match: re.Match[str]) -> str:
        spans.append(next(g for g in match.groups() if g is not None))
        return _PLACEHOLDER.format(len(spans) - 1)

    masked = MATH_SPAN.sub(hide, tail)
    sentence = CLAUSE_END.split(masked, maxsplit=1)[0].strip()
    copulas = list(_COPULA.finditer(" " + sentence))
    if copulas and re.match(r"[A-Za-z]", sentence) and not sentence.startswith("\x00"):
        after = (" " + sentence)[copulas[-1].end() :].strip()
        sentence = after or sentence
    sentence = sentence.strip(" \t*_:,").rstrip(".")
    found = re.findall(r"\x00(\d+)\x00", sentence)
    outside = re.sub(r"\x00\d+\x00", " ", sentence).strip(" .,*_")
    if len(found) == 1 and (not outside or re.fullmatch(r"[A-Za-z][A-Za-z./ ]{0,30}", outside)):
        value = spans[int(found[0])]
        # a unit written after the span (`$5$ cm`) stays with it
        return f"{value} {outside}" if outside and sentence.find("\x00") == 0 else value
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m[1])], sentence)


def _answer_like(value: str) -> bool:
    """Not prose: "the answer is clear from the above" names no answer."""
    words = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", " ", value))
    return bool(re.search(r"[\d\\^=]", value)) or len(words) <= 3


def _fallback(content: str) -> Extracted:
    """The last of: a bare final line, a whole math span, a number standing alone (with the
    unit written after either: `5 cm` must not be read as 5 of the reference's metres)."""
    lines = [line for line in content.rstrip().split("\n") if line.strip()]
    if lines and _bare_expression(lines[-1]):
        return Extracted([lines[-1].strip(" \t*_")], "final_line")
    best: tuple[int, str, str] | None = None
    for match in MATH_SPAN.finditer(content):
        value = next(g for g in match.groups() if g is not None).strip()
        if value:
            best = (match.end(), value + _unit_after(content, match.end()), "math_span")
    masked = MATH_SPAN.sub(lambda m: " " * len(m[0]), content)
    for match in _BARE_NUMBER.finditer(masked):
        if best is None or match.end() > best[0]:
            best = (match.end(), match[0] + _unit_after(masked, match.end()), "last_number")
    return Extracted([best[1]], best[2]) if best else Extracted()


def _unit_after(text: str, end: int) -> str:
    match = _UNIT_AFTER.match(text, end)
    return f" {match[1]}" if match and is_unit(match[1]) else ""


def _bare_expression(line: str) -> bool:
    """A final line that is an expression alone (`\\frac{3}{4}`, `x = 5`), not a sentence."""
    text = line.strip(" \t*_")
    if not text or any(delimiter in text for delimiter in ("$", "\\(", "\\[")):
        return False  # math spans are read as spans
    prose = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{2,}", text)  # words, not LaTeX commands
    return not prose and bool(re.search(r"[\d\\]", text))

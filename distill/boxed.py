"""`\\boxed{...}` answers in LaTeX text: the one place that reads them (sources and graders).

Braces are balanced, so `\\boxed{\\frac{3}{4}}` gives `\\frac{3}{4}`; `\\fbox{...}` counts too. A
box inside another box belongs to the outer one. An unclosed box is no answer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


class Boxed(NamedTuple):
    start: int  # where `\boxed` starts in the text
    end: int  # one past its closing brace
    content: str


def all_boxed(text: str) -> list[Boxed]:
    """Every outermost closed box in `text`, in order."""
    boxes: list[Boxed] = []
    pos = 0
    while match := _OPEN.search(text, pos):
        close = _closing_brace(text, match.end())
        if close < 0:
            break
        boxes.append(Boxed(match.start(), close + 1, text[match.end() : close]))
        pos = close + 1
    return boxes


def last_boxed(text: str) -> str | None:
    """The content of the last box in `text`; None when there is none or it is never closed."""
    boxes = all_boxed(text)
    return boxes[-1].content if boxes and not unclosed_box(text) else None


def unclosed_box(text: str) -> bool:
    """Whether a box is opened and never closed (a cut-off answer: its earlier boxes are drafts)."""
    boxes = all_boxed(text)
    return _OPEN.search(text, boxes[-1].end if boxes else 0) is not None


def _closing_brace(text: str, start: int) -> int:
    # `\{` and `\}` are counted too: they come in pairs, so the balance holds
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1

"""Short answers for the answer grader: a phrase compared after the SQuAD normalisation.

The answer is the box (several different boxes: ambiguous), else the sentence after the last
answer phrase that has one (cut before "because", "since", ...: "Paris, because it is the
capital" is Paris), else the last line. Both sides are lowercased, stripped of punctuation and
articles, and single-spaced; `reference.aliases` are accepted too.
"""

from __future__ import annotations

import re
import string
from typing import Any

from distill.boxed import all_boxed
from distill.grade.answer_extract import CLAUSE_END, anchor_tails

_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|boxed|fbox)\s*\{([^{}]*)\}")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def squad_normalise(text: str) -> str:
    text = _WRAPPER.sub(r"\1", text).replace("$", "")
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def grade_short(content: str, golds: list[str]) -> tuple[str, str, dict[str, Any]]:
    details: dict[str, Any] = {"rule": "short"}
    boxes = list(dict.fromkeys(squad_normalise(b.content) for b in all_boxed(content)))
    boxes = [b for b in boxes if b]
    tails = [t for t in anchor_tails(content) if squad_normalise(t)]
    lines = [line for line in content.strip().splitlines() if line.strip()]
    candidates: list[str]
    if boxes:
        details["extraction"] = "boxed"
        if len(boxes) > 1:
            details["extracted"] = ", ".join(boxes)
            return "fail", "ambiguous_answer", details
        candidates = boxes
    elif tails:
        details["extraction"] = "anchor"
        candidates = [tails[0], CLAUSE_END.split(tails[0], maxsplit=1)[0]]
    elif lines:
        details["extraction"] = "whole" if len(lines) == 1 else "last_line"
        candidates = [lines[-1], CLAUSE_END.split(lines[-1], maxsplit=1)[0]]
    else:
        details["extraction"] = "none"
        candidates = []
    normalised = [squad_normalise(c) for c in candidates]
    if not any(normalised):
        return "fail", "no_answer", details
    details["extracted"] = candidates[0].strip()
    accepted = {squad_normalise(g) for g in golds}
    if any(n in accepted for n in normalised if n):
        return "pass", "short", details
    return "fail", "wrong_answer", details

"""One conflicted file → merge tasks: split diff3 output into hunks, find each hunk's resolution
in the file the developer committed, and build the prompt and reference around it.

A hunk's resolution is the text between its surrounding context lines as they appear in the
committed file. The context shown in the prompt must be there verbatim (the grader checks that an
answer keeps it); more lines on each side, up to the next conflict, are used only to make the
match unique, and a file start or end next to the hunk anchors it. A hunk whose context is
missing, still not unique, or out of order is dropped and counted, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

OURS, BASE, SEP, THEIRS = "<<<<<<< ours", "||||||| base", "=======", ">>>>>>> theirs"
MARKER_LINE = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(\s|$)", re.MULTILINE)


@dataclass(frozen=True)
class Hunk:
    ours: tuple[str, ...]
    base: tuple[str, ...]
    theirs: tuple[str, ...]

    @property
    def lines(self) -> int:
        return len(self.ours) + len(self.base) + len(self.theirs)


@dataclass(frozen=True)
class Limits:
    context: int = 5  # lines shown on each side of the hunk
    locate_context: int = 20  # lines used at most to find the hunk in the committed file
    max_hunk_lines: int = 30  # ours + base + theirs, and the resolution
    max_prompt_chars: int = 6000


@dataclass(frozen=True)
class Mined:
    conflict: str  # context + diff3 hunk + context: the prompt
    resolution: str  # context + the committed lines + context
    side: str  # ours | theirs | base | combined
    line: int  # 1-based line of the resolution in the committed file
    hunk_lines: int


Item = str | Hunk


def split_diff3(text: str) -> list[Item]:
    """`git merge-file --diff3 -L ours -L base -L theirs` output → clean lines and hunks."""
    items: list[Item] = []
    sections: list[list[str]] | None = None
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if sections is None:
            if bare == OURS:
                sections = [[]]
            else:
                items.append(_nl(line))
        elif bare in (BASE, SEP) and len(sections) < 3:
            sections.append([])
        elif bare == THEIRS and len(sections) == 3:
            items.append(Hunk(*(tuple(s) for s in sections)))
            sections = None
        else:
            sections[-1].append(_nl(line))
    if sections is not None:
        raise ValueError("unterminated conflict hunk in git merge-file output")
    return items


def _nl(line: str) -> str:
    return line if line.endswith("\n") else line + "\n"


def mine_file(items: Sequence[Item], merged: Sequence[str], limits: Limits) -> list[Mined | str]:
    """For each hunk, what it yields or the reason it was dropped."""
    results: list[Mined | str] = []
    for index, item in enumerate(items):
        if isinstance(item, Hunk):
            results.append(_mine_hunk(items, index, item, merged, limits))
    return results


def _mine_hunk(
    items: Sequence[Item], index: int, hunk: Hunk, merged: Sequence[str], limits: Limits
) -> Mined | str:
    if hunk.lines > limits.max_hunk_lines:
        return "hunk too long"
    before, at_start = _run(items, index, -1)
    after, at_end = _run(items, index, +1)
    if (not before and not at_start) or (not after and not at_end):
        return "no context (next to another hunk)"
    window = limits.locate_context
    start = _anchor(
        merged, before[-window:], at_start and len(before) <= window, limits.context, True
    )
    end = _anchor(merged, after[:window], at_end and len(after) <= window, limits.context, False)
    for found in (start, end):
        if isinstance(found, str):
            return found
    assert isinstance(start, int) and isinstance(end, int)
    if start > end:
        return "context out of order"
    resolved = [_nl(line) for line in merged[start:end]]
    if MARKER_LINE.search("".join(resolved)):
        return "conflict markers committed"
    if len(resolved) > limits.max_hunk_lines:
        return "resolution too long"
    shown_before = before[len(before) - min(limits.context, len(before)) :]
    shown_after = after[: limits.context]
    conflict = "".join(
        [*shown_before, OURS + "\n", *hunk.ours, BASE + "\n", *hunk.base, SEP + "\n",
         *hunk.theirs, THEIRS + "\n", *shown_after]
    )  # fmt: skip
    if len(conflict) > limits.max_prompt_chars:
        return "prompt too long"
    return Mined(
        conflict=conflict,
        resolution="".join([*shown_before, *resolved, *shown_after]),
        side=resolution_side(resolved, hunk),
        line=start + 1,
        hunk_lines=hunk.lines,
    )


def _run(items: Sequence[Item], index: int, step: int) -> tuple[list[str], bool]:
    """The clean lines next to a hunk up to the next hunk, and whether they reach the file's
    edge (so the edge itself anchors them)."""
    lines: list[str] = []
    i = index + step
    while 0 <= i < len(items):
        item = items[i]
        if isinstance(item, Hunk):
            return (lines[::-1] if step < 0 else lines), False
        lines.append(item)
        i += step
    return (lines[::-1] if step < 0 else lines), True


def _anchor(
    merged: Sequence[str], context: list[str], at_edge: bool, shown: int, before: bool
) -> int | str:
    """Where the resolution starts (context before it) or ends (context after it).

    All of the shown context must match; more lines are added only while the match is not
    unique. A context that reaches the file's edge must sit at the same edge."""
    size = len(merged)
    if not context:
        return 0 if before else size
    key = [line.rstrip() for line in context]
    text = [line.rstrip() for line in merged]
    # candidate positions: the resolution boundary p (before: merged[p-1] == context[-1])
    if before:
        cands = [p for p in range(1, size + 1) if text[p - 1] == key[-1]]
    else:
        cands = [q for q in range(size) if text[q] == key[0]]
    need = max(1, min(shown, len(key)))
    for k in range(2, len(key) + 1):
        if k > need and len(cands) <= 1:
            break
        if before:
            cands = [p for p in cands if p - k >= 0 and text[p - k] == key[-k]]
        else:
            cands = [q for q in cands if q + k - 1 < size and text[q + k - 1] == key[k - 1]]
    if at_edge and len(cands) > 1:
        edge = [p for p in cands if (p == len(key) if before else p + len(key) == size)]
        cands = edge or cands
    if not cands:
        return "context changed in the merge"
    if len(cands) > 1:
        return "ambiguous context"
    return cands[0]


def resolution_side(resolved: Sequence[str], hunk: Hunk) -> str:
    """Which side the committed lines equal, ignoring whitespace; `combined` if none."""
    text = _squash(resolved)
    for side, lines in (("ours", hunk.ours), ("theirs", hunk.theirs), ("base", hunk.base)):
        if text == _squash(lines):
            return side
    return "combined"


def _squash(lines: Sequence[str]) -> str:
    return "\n".join(" ".join(line.split()) for line in lines).strip()

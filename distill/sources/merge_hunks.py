"""One conflicted file → merge tasks: split diff3 output into hunks, find each hunk's resolution
in the file the developer committed, and build the prompt and reference around it.

Lines end at `\n` only, as they do for git: a form feed, U+2028 or a lone `\r` inside a line
stays in it byte for byte. Only git's own markers open and close a hunk, in diff3 order, and every
section must be text of its side, so a line of seven `=` (an RST underline) is just text.

A hunk's resolution is the text between its surrounding context lines as they appear in the
committed file. The context shown in the prompt must be there verbatim (the grader checks that an
answer keeps it); more lines on each side, up to the next conflict, are used only to make the
match unique, and a file start or end next to the hunk anchors it. A hunk whose context is
missing, still not unique, or out of order is dropped and counted, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MARKER_SIZE = 7  # git's default; a `conflict-marker-size` attribute changes it per file


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
    """Sizes in tokens (estimated as characters / 4, as harvest estimates prompts), high
    enough to keep a long real conflict; a line limit only when asked for."""

    context: int = 5  # lines shown on each side of the hunk
    locate_context: int = 20  # lines used at most to find the hunk in the committed file
    max_prompt_tokens: int = 8000  # the conflict with its context: what the teacher reads
    max_resolution_tokens: int = 4000  # the resolution with its context: what it must write
    max_hunk_lines: int | None = None  # ours + base + theirs, and the resolution


def estimate_tokens(text: str) -> int:
    """The estimate harvest.limits uses (which sources may not import): characters / 4."""
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class Mined:
    conflict: str  # context + diff3 hunk + context: the prompt
    resolution: str  # context + the committed lines + context
    side: str  # ours | theirs | base | combined
    line: int  # 1-based line of the resolution in the committed file
    hunk_lines: int


Item = str | Hunk


def split_lines(text: str) -> list[str]:
    """Lines ending at `\n` only, each keeping its end (the last one may have none)."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def markers(size: int = MARKER_SIZE) -> tuple[str, str, str, str]:
    """The prompt's marker lines for a file whose markers are `size` characters long."""
    return ("<" * size + " ours", "|" * size + " base", "=" * size, ">" * size + " theirs")


def split_diff3(
    text: str, sides: Sequence[str] | None = None, size: int = MARKER_SIZE
) -> list[Item]:
    """diff3-style merge output (any labels) → clean lines and hunks.

    A hunk is `<<<<<<<`, ours, `|||||||`, base, `=======`, theirs, `>>>>>>>`, each marker
    ending the section before it only in that order. With `sides` (ours, base, theirs texts),
    each section must be text of its side; ValueError says why a file cannot be read."""
    items: list[Item] = []
    sections: list[list[str]] | None = None
    opens = ("<" * size, "|" * size, "=" * size, ">" * size)
    for line in split_lines(text):
        bare = line.rstrip("\r\n")
        if sections is None:
            if _is_marker(bare, opens[0]):
                sections = [[]]
            else:
                items.append(_nl(line))
        elif len(sections) < 3 and _is_marker(bare, opens[len(sections)], len(sections) == 2):
            sections.append([])
        elif len(sections) == 3 and _is_marker(bare, opens[3]):
            hunk = Hunk(*(tuple(s) for s in sections))
            if sides is not None and not _sections_of(hunk, sides):
                raise ValueError("marker-like lines inside a conflict")
            items.append(hunk)
            sections = None
        else:
            sections[-1].append(_nl(line))
    if sections is not None:
        raise ValueError("unterminated conflict hunk in the merge output")
    return items


def _is_marker(bare: str, marker: str, exact: bool = False) -> bool:
    if exact:  # the separator has no label
        return bare == marker
    return bare == marker or bare.startswith(marker + " ")


def _sections_of(hunk: Hunk, sides: Sequence[str]) -> bool:
    """Each section is a run of lines of its side: else a side's own marker-like line was
    taken for git's marker."""
    for section, side in zip((hunk.ours, hunk.base, hunk.theirs), sides, strict=True):
        whole = side if side.endswith("\n") or not side else side + "\n"
        if "".join(section) not in whole:
            return False
    return True


def _nl(line: str) -> str:
    return line if line.endswith("\n") else line + "\n"


def mine_file(
    items: Sequence[Item], merged: Sequence[str], limits: Limits, size: int = MARKER_SIZE
) -> list[Mined | str]:
    """For each hunk, what it yields or the reason it was dropped (naming the limit)."""
    results: list[Mined | str] = []
    for index, item in enumerate(items):
        if isinstance(item, Hunk):
            results.append(_mine_hunk(items, index, item, merged, limits, size))
    return results


def _mine_hunk(
    items: Sequence[Item],
    index: int,
    hunk: Hunk,
    merged: Sequence[str],
    limits: Limits,
    size: int,
) -> Mined | str:
    too_many = limits.max_hunk_lines
    if too_many is not None and hunk.lines > too_many:
        return "hunk over --max-hunk-lines"
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
    if _committed_markers(resolved, hunk, size):
        return "conflict markers committed"
    if too_many is not None and len(resolved) > too_many:
        return "resolution over --max-hunk-lines"
    shown_before = before[len(before) - min(limits.context, len(before)) :]
    shown_after = after[: limits.context]
    resolution = "".join([*shown_before, *resolved, *shown_after])
    if estimate_tokens(resolution) > limits.max_resolution_tokens:
        return "resolution over --max-resolution-tokens"
    ours, base, sep, theirs = markers(size)
    conflict = "".join(
        [*shown_before, ours + "\n", *hunk.ours, base + "\n", *hunk.base, sep + "\n",
         *hunk.theirs, theirs + "\n", *shown_after]
    )  # fmt: skip
    if estimate_tokens(conflict) > limits.max_prompt_tokens:
        return "prompt over --max-prompt-tokens"
    return Mined(
        conflict=conflict,
        resolution=resolution,
        side=resolution_side(resolved, hunk),
        line=start + 1,
        hunk_lines=hunk.lines,
    )


def _committed_markers(resolved: Sequence[str], hunk: Hunk, size: int) -> bool:
    """An opening or closing marker line the developer committed that no side had."""
    own = {line.rstrip("\r\n") for line in (*hunk.ours, *hunk.base, *hunk.theirs)}
    for line in resolved:
        bare = line.rstrip("\r\n")
        if bare not in own and (_is_marker(bare, "<" * size) or _is_marker(bare, ">" * size)):
            return True
    return False


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

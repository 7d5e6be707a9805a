"""Replay one merge commit as `git merge` did it, and list the files that conflicted.

The `ort` engine (git >= 2.38) is git's own merge: `git merge-tree --write-tree` with diff3
markers, so histogram diff, rename detection and the merge drivers of `.gitattributes` (a
`merge=union` file does not conflict) are what the developer got. Its trees go to the scratch
object store (merge_git), never the repository's.

The `merge-file` engine is the fallback for older git: each file both parents changed is merged
alone with `git merge-file --diff3` (myers diff, no renames, no merge drivers), so some of its
conflicts are not the ones the developer saw.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import InputError
from distill.sources.merge_git import Git
from distill.sources.merge_hunks import MARKER_SIZE

_REGULAR = ("100644", "100755")
ORT_SINCE = (2, 38)


@dataclass(frozen=True)
class Conflicted:
    """One conflicted file: its path in the merge, the blobs of its three versions (None: the
    version does not exist), git's merge with markers, or the reason it cannot be mined."""

    path: str
    base: str | None = None
    ours: str | None = None
    theirs: str | None = None
    merged: bytes | None = None
    marker_size: int = MARKER_SIZE
    reason: str = ""


def choose_engine(git: Git, wanted: str) -> str:
    if wanted not in ("auto", "ort", "merge-file"):
        raise InputError(f"merge engine {wanted!r}: use auto, ort or merge-file")
    if wanted != "auto":
        return wanted
    return "ort" if git.version() >= ORT_SINCE else "merge-file"


def replay_ort(git: Git, ours: str, theirs: str) -> list[Conflicted]:
    """The conflicted files of `git merge theirs` into ours; empty when it merges cleanly."""
    status, out = git.run_status(
        "-c", "merge.conflictStyle=diff3", "merge-tree", "--write-tree", "-z", "--messages",
        ours, theirs,
    )  # fmt: skip
    if status == 0:
        return []
    fields = out.split("\0")
    tree, (by_path, entries) = fields[0], _stages(fields[1:])
    kinds = _kinds(fields[len(entries) + 2 :])
    sizes = _marker_sizes(git, sorted(by_path))
    found = []
    for path, by_stage in sorted(by_path.items()):
        modes = {mode for mode, _ in by_stage.values()}
        base, ours_blob, theirs_blob = (
            by_stage[n][1] if n in by_stage else None for n in (1, 2, 3)
        )
        conflict = Conflicted(
            path, base, ours_blob, theirs_blob, marker_size=sizes.get(path, MARKER_SIZE)
        )
        types = kinds.get(path, set())
        if conflict.ours is None or conflict.theirs is None:
            other = sorted(t for t in types if t != "CONFLICT (contents)")
            reason = _named(other[0]) if other else "modify/delete conflict"
        elif not modes <= set(_REGULAR):
            reason = "symlink or submodule"
        elif "CONFLICT (binary)" in types:
            reason = "binary file"
        else:
            merged = git.blob(f"{tree}:{path}")
            found.append(_with(conflict, merged=merged))
            continue
        found.append(_with(conflict, reason=reason))
    return found


def _named(kind: str) -> str:
    """`CONFLICT (rename/delete)` → `rename/delete conflict`."""
    return kind.removeprefix("CONFLICT (").removesuffix(")") + " conflict"


def _with(conflict: Conflicted, **changes: Any) -> Conflicted:
    return dataclasses.replace(conflict, **changes)


def _stages(fields: list[str]) -> tuple[dict[str, dict[int, tuple[str, str]]], list[str]]:
    """`<mode> <blob> <stage>\\t<path>` entries up to the empty field: path → stage → (mode,
    blob), and the entries themselves (to find where the messages start)."""
    by_path: dict[str, dict[int, tuple[str, str]]] = {}
    entries = []
    for field in fields:
        if not field:
            break
        entries.append(field)
        meta, path = field.split("\t", 1)
        mode, blob, stage = meta.split()
        by_path.setdefault(path, {})[int(stage)] = (mode, blob)
    return by_path, entries


def _kinds(fields: list[str]) -> dict[str, set[str]]:
    """`<count>\\0<path>...\\0<type>\\0<message>\\0` records: path → conflict types."""
    kinds: dict[str, set[str]] = {}
    i = 0
    while i < len(fields) and fields[i].isdigit():
        count = int(fields[i])
        paths, kind = fields[i + 1 : i + 1 + count], fields[i + 1 + count]
        for path in paths:
            kinds.setdefault(path, set()).add(kind)
        i += count + 3
    return kinds


def _marker_sizes(git: Git, paths: list[str]) -> dict[str, int]:
    """`conflict-marker-size` of each path, from the merge's attributes."""
    if not paths:
        return {}
    out = git.run("check-attr", "-z", "conflict-marker-size", "--", *paths, check=False)
    fields = out.split("\0")
    sizes = {}
    for path, _, value in zip(fields[0::3], fields[1::3], fields[2::3], strict=False):
        if value.isdigit() and int(value) > 0:
            sizes[path] = int(value)
    return sizes


def replay_per_file(git: Git, tmp: Path, base: str, ours: str, theirs: str) -> list[Conflicted]:
    """The files both sides changed that `git merge-file --diff3` does not merge cleanly."""
    left, right = _changes(git, base, ours), _changes(git, base, theirs)
    found = []
    for path in sorted(left.keys() & right.keys()):
        (old, a, a_status), (_, b, b_status) = left[path], right[path]
        if a == b:
            continue  # the same change on both sides merges cleanly
        conflict = Conflicted(path, None if _null(old) else old, a, b)
        if "D" in (a_status, b_status) or _null(a) or _null(b):
            found.append(_with(conflict, reason="modify/delete conflict"))
            continue
        blobs = [b"" if _null(spec) else git.blob(spec) or b"" for spec in (old, a, b)]
        if any(b"\0" in blob for blob in blobs):
            found.append(_with(conflict, reason="binary file"))
            continue
        merged = _merge_file(tmp, *blobs)
        if merged is not None:
            found.append(_with(conflict, merged=merged))
    return found


def _changes(git: Git, base: str, side: str) -> dict[str, tuple[str, str, str]]:
    """Regular files changed from base to side: path → (base blob, side blob, status)."""
    out = git.run("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", base, side)
    fields = out.split("\0")
    changes = {}
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.lstrip(":").split()
        if len(parts) != 5:
            continue
        old_mode, new_mode, old_blob, new_blob, status = parts
        if (old_mode not in _REGULAR and status != "A") or (
            new_mode not in _REGULAR and status != "D"
        ):
            continue  # symlinks, submodules, type changes
        changes[path] = (old_blob, new_blob, status[0])
    return changes


def _null(oid: str) -> bool:
    """git's id for "no file" (40 zeros, or 64 in a SHA-256 repository)."""
    return not oid.strip("0")


def _merge_file(tmp: Path, base: bytes, ours: bytes, theirs: bytes) -> bytes | None:
    """git merge-file --diff3 over temporary copies; None when it merges cleanly."""
    names = []
    for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
        (tmp / name).write_bytes(data)
        names.append(str(tmp / name))
    done = subprocess.run(
        ["git", "merge-file", "-p", "--diff3", "-L", "ours", "-L", "base", "-L", "theirs", *names],
        capture_output=True, check=False, cwd=tmp,
    )  # fmt: skip
    if done.returncode == 0:
        return None
    if done.returncode > 127:
        raise InputError(f"git merge-file failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout

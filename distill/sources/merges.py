"""Mine merge-conflict tasks, with the resolution the developer committed, from git history.

Walks two-parent merge commits (newest first; `--since`, a commit cap), and for each file both
parents changed replays the three-way merge of its blobs with `git merge-file --diff3` on
temporary copies. Only read-only git commands touch the repository: its working tree, index,
refs and object store are never written. Each conflict hunk then goes to merge_hunks, which finds
its resolution in the merge commit's version of the file.

The replay is per file, as git's content merge does it; renames are not followed (a renamed file
is skipped), nor are criss-cross merges with several merge bases (git would merge a virtual
base first), nor files with custom merge drivers in mind.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from distill.errors import InputError
from distill.records import Task
from distill.sources.common import ImportContext
from distill.sources.merge_hunks import MARKER_LINE, Limits, Mined, mine_file, split_diff3

log = logging.getLogger(__name__)

_REGULAR = ("100644", "100755")

LANGUAGES = {
    "py": "python", "pyi": "python", "js": "javascript", "mjs": "javascript", "cjs": "javascript",
    "jsx": "jsx", "ts": "typescript", "tsx": "tsx", "go": "go", "java": "java", "c": "c",
    "h": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp", "hxx": "cpp",
    "cs": "csharp", "rb": "ruby", "rs": "rust", "php": "php", "swift": "swift", "kt": "kotlin",
    "kts": "kotlin", "scala": "scala", "sh": "bash", "bash": "bash", "zsh": "zsh", "yaml": "yaml",
    "yml": "yaml", "json": "json", "toml": "toml", "ini": "ini", "cfg": "ini", "md": "markdown",
    "rst": "rst", "html": "html", "htm": "html", "css": "css", "scss": "scss", "sql": "sql",
    "r": "r", "lua": "lua", "pl": "perl", "pm": "perl", "hs": "haskell", "nim": "nim",
    "ex": "elixir", "exs": "elixir", "erl": "erlang", "clj": "clojure", "dart": "dart",
    "vue": "vue", "xml": "xml", "gradle": "groovy", "groovy": "groovy", "m": "objective-c",
    "mm": "objective-cpp", "zig": "zig", "jl": "julia", "ml": "ocaml", "fs": "fsharp",
    "tf": "hcl", "proto": "protobuf", "cmake": "cmake", "tex": "latex", "txt": "text",
}  # fmt: skip
NAMES = {"makefile": "makefile", "dockerfile": "dockerfile", "cmakelists.txt": "cmake",
         "gemfile": "ruby", "rakefile": "ruby"}  # fmt: skip


def language_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name in NAMES:
        return NAMES[name]
    return LANGUAGES.get(name.rsplit(".", 1)[-1], "text") if "." in name else "text"


@dataclass(frozen=True)
class MineOptions:
    repo: Path
    rev: str = "HEAD"  # or "--all": every ref
    since: str | None = None
    max_commits: int | None = 1000
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    max_file_bytes: int = 1_000_000


@dataclass(frozen=True)
class _Side:
    base: str  # blob id in the merge base; all zeros when the file was added
    blob: str
    status: str


class Git:
    """Read-only access to one repository: commands and a `cat-file --batch` reader."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "GIT_OPTIONAL_LOCKS": "0",
        }
        try:
            self._git("rev-parse", "--git-dir")
        except FileNotFoundError:
            raise InputError("git is not installed (needed to mine merges)") from None
        except InputError as exc:  # git's own words say why: not a repository, unsafe owner
            raise InputError(f"{repo}: not a usable git repository ({exc})") from None
        self._batch: subprocess.Popen[bytes] | None = None

    def run(self, *args: str, check: bool = True) -> str:
        try:
            return self._git(*args, check=check)
        except InputError as exc:
            raise InputError(f"{self.repo}: git {args[0]} failed: {exc}") from None

    def _git(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.repo), *args], capture_output=True, env=self.env, check=False
        )
        if check and done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
            raise InputError((fatal or lines or [f"exit status {done.returncode}"])[0])
        return done.stdout.decode("utf-8", "surrogateescape")

    def blob(self, spec: str) -> bytes | None:
        """A blob by id or `rev:path`; None if there is none."""
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "-C", str(self.repo), "cat-file", "--batch"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env,
            )  # fmt: skip
        stdin, stdout = self._batch.stdin, self._batch.stdout
        assert stdin is not None and stdout is not None
        stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            return None  # "<spec> missing" or "ambiguous"
        data = _read_exactly(stdout, int(header[2]))
        stdout.read(1)  # the newline after each object
        return data if header[1] == b"blob" else None

    def close(self) -> None:
        if self._batch is not None:
            assert self._batch.stdin is not None
            self._batch.stdin.close()
            self._batch.wait()
            self._batch = None


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            raise InputError("git cat-file ended early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def mine_merges(ctx: ImportContext, options: MineOptions) -> Iterator[Task]:
    """Tasks from every conflict hunk of the merges walked; figures go to ctx.stats."""
    if not options.repo.exists():
        raise InputError(f"{options.repo}: no such directory")
    git = Git(options.repo)
    extra = ctx.stats.extra
    for key in ("merge commits walked", "merges with conflicts", "conflicted files",
                "conflict hunks"):  # fmt: skip
        extra[key] = 0
    try:
        args = ["rev-list", "--merges", "--max-parents=2", "--parents"]
        if options.since:
            args.append(f"--since={options.since}")
        if options.max_commits is not None:
            args.append(f"--max-count={options.max_commits}")
        if options.rev.startswith("-") and options.rev != "--all":
            raise InputError(f"--rev {options.rev!r}: a revision cannot start with '-'")
        walked = git.run(*args, options.rev, "--").split("\n")
        with tempfile.TemporaryDirectory(prefix="distill-merge-") as tmp:
            for line in walked:
                if not line.strip():
                    continue
                commit, ours, theirs = line.split()
                extra["merge commits walked"] += 1
                if extra["merge commits walked"] % 200 == 0:
                    log.info("walked %d merges", extra["merge commits walked"])
                files_before = extra["conflicted files"]
                yield from _mine_commit(git, ctx, options, Path(tmp), commit, ours, theirs)
                extra["merges with conflicts"] += extra["conflicted files"] > files_before
    finally:
        git.close()
    ctx.stats.rows = extra["conflict hunks"]
    if not extra["merge commits walked"]:
        shallow = git.run("rev-parse", "--is-shallow-repository", check=False).strip() == "true"
        # A shallow clone is worth a warning; a history without merges is just a fact (and a
        # nightly cron job must not mail it every night).
        (log.warning if shallow else log.info)(
            "%s: no two-parent merge commits reachable from %s%s",
            options.repo,
            "any ref" if options.rev == "--all" else options.rev,
            " (a shallow clone: `git fetch --unshallow` brings the history)" if shallow else "",
        )


def _mine_commit(
    git: Git,
    ctx: ImportContext,
    options: MineOptions,
    tmp: Path,
    commit: str,
    ours: str,
    theirs: str,
) -> Iterator[Task]:
    bases = git.run("merge-base", "--all", ours, theirs, check=False).split()
    if len(bases) != 1:
        ctx.skip("merge with several merge bases" if bases else "merge of unrelated histories")
        return
    left, right = _changes(git, bases[0], ours), _changes(git, bases[0], theirs)
    for path in sorted(left.keys() & right.keys()):
        a, b = left[path], right[path]
        if a.blob == b.blob:
            continue  # the same change on both sides merges cleanly
        if not _wanted(path, options):
            ctx.skip("file outside --include/--exclude")
            continue
        if "D" in (a.status, b.status) or _null(a.blob) or _null(b.blob):
            ctx.skip("file deleted on one side")
            continue
        texts = _texts(git, ctx, options, (a.base, a.blob, b.blob, f"{commit}:{path}"))
        if texts is None:
            continue
        merged_file = _replay(tmp, texts[0], texts[1], texts[2])
        if merged_file is None:
            continue  # git merges this file cleanly
        ctx.stats.extra["conflicted files"] += 1
        try:
            items = split_diff3(merged_file)
        except ValueError:
            ctx.skip("unreadable git merge-file output")
            continue
        results = mine_file(items, texts[3].splitlines(keepends=True), options.limits)
        yield from _tasks(ctx, results, path, commit, (ours, theirs), bases[0], git.repo)


def _changes(git: Git, base: str, side: str) -> dict[str, _Side]:
    """Regular files changed from base to side: path → (base blob, side blob, status)."""
    out = git.run("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", base, side)
    fields = out.split("\0")
    changes: dict[str, _Side] = {}
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.lstrip(":").split()
        if len(parts) != 5:
            continue
        old_mode, new_mode, old_blob, new_blob, status = parts
        if (
            "\n" in path
            or (old_mode not in _REGULAR and status != "A")
            or (new_mode not in _REGULAR and status != "D")
        ):
            continue  # symlinks, submodules, type changes
        changes[path] = _Side(old_blob, new_blob, status[0])
    return changes


def _null(oid: str) -> bool:
    """git's id for "no file" (40 zeros, or 64 in a SHA-256 repository)."""
    return not oid.strip("0")


def _wanted(path: str, options: MineOptions) -> bool:
    if options.include and not any(fnmatch.fnmatchcase(path, g) for g in options.include):
        return False
    return not any(fnmatch.fnmatchcase(path, g) for g in options.exclude)


def _texts(
    git: Git, ctx: ImportContext, options: MineOptions, specs: tuple[str, str, str, str]
) -> tuple[str, str, str, str] | None:
    """base, ours, theirs and merged text, or None (counted) when the file cannot be mined."""
    blobs = [b"" if _null(spec) else git.blob(spec) for spec in specs]
    if blobs[3] is None:
        ctx.skip("file deleted in the merge")
        return None
    texts = []
    for blob in blobs:
        assert blob is not None
        if len(blob) > options.max_file_bytes:
            ctx.skip("file too large")
            return None
        if b"\0" in blob:
            ctx.skip("binary file")
            return None
        try:
            texts.append(blob.decode("utf-8"))
        except UnicodeDecodeError:
            ctx.skip("file not UTF-8")
            return None
    if any(MARKER_LINE.search(t) for t in texts[:3]):
        ctx.skip("conflict-marker-like lines in the file")
        return None
    return texts[0], texts[1], texts[2], texts[3]


def _replay(tmp: Path, base: str, ours: str, theirs: str) -> str | None:
    """git merge-file --diff3 over temporary copies; None when it merges cleanly."""
    names = []
    for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
        (tmp / name).write_bytes(text.encode("utf-8"))
        names.append(str(tmp / name))
    done = subprocess.run(
        ["git", "merge-file", "-p", "--diff3", "-L", "ours", "-L", "base", "-L", "theirs", *names],
        capture_output=True, check=False, cwd=tmp,
    )  # fmt: skip
    if done.returncode == 0:
        return None
    if done.returncode > 127:
        raise InputError(f"git merge-file failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout.decode("utf-8")


def _tasks(
    ctx: ImportContext,
    results: list[Mined | str],
    path: str,
    commit: str,
    parents: tuple[str, str],
    base: str,
    repo: Path,
) -> Iterator[Task]:
    language = language_of(path)
    for number, result in enumerate(results, start=1):
        ctx.stats.extra["conflict hunks"] += 1
        if isinstance(result, str):
            ctx.skip(result)
            continue
        meta = {
            "language": language,
            "resolution_side": result.side,
            "repo": repo.resolve().name,
            "commit": commit,
            "parents": list(parents),
            "merge_base": base,
            "path": path,
            "hunk": number,
            "line": result.line,
            "hunk_lines": result.hunk_lines,
        }
        reference = {
            "conflict": result.conflict,
            "resolution": result.resolution,
            "language": language,
        }
        yield ctx.task("merge", prompt=result.conflict, reference=reference, meta=meta)

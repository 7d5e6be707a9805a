"""Mine merge-conflict tasks, with the resolution the developer committed, from git history.

Walks two-parent merge commits (newest first; `--since`; a commit cap only when asked for, and
then counted) and replays each as `git merge` did (merge_replay: ort's histogram diff, renames
and `.gitattributes` merge drivers). Only read-only git commands touch the repository; what git
writes goes to a scratch directory (merge_git). Each conflict hunk then goes to merge_hunks, which
finds its resolution in the merge commit's version of the file. Every file or hunk left out is
counted by reason in ctx.stats, which the import summary prints.

Criss-cross merges (several merge bases) are skipped and counted: git would merge a virtual base
first, and its base section would not be any commit's text.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distill.errors import InputError
from distill.records import Task
from distill.sources.common import ImportContext, slug
from distill.sources.merge_git import Git, repo_label, short_name
from distill.sources.merge_hunks import Limits, Mined, mine_file, split_diff3, split_lines
from distill.sources.merge_replay import Conflicted, choose_engine, replay_ort, replay_per_file

log = logging.getLogger(__name__)

_OLD_GIT = (
    "git older than 2.38: conflicts are replayed per file with myers diff, without renames or "
    "merge drivers, and may differ from the ones git merge showed"
)

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
    max_commits: int | None = None  # None: the whole history
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    max_file_bytes: int = 1_000_000
    repo_name: str = ""  # meta.repo; default the remote URL (origin first), else the folder
    engine: str = "auto"  # ort (git >= 2.38) | merge-file (older git) | auto


def merge_source_name(options: MineOptions) -> str:
    """The default `source` of mined tasks: git-<owner>-<repo> from --repo-name or the remote."""
    if options.repo_name:
        return f"git-{slug(short_name(options.repo_name))}"
    if not options.repo.exists():
        raise InputError(f"{options.repo}: no such directory")
    git = Git(options.repo)
    try:
        return f"git-{slug(short_name(repo_label(git)))}"
    finally:
        git.close()


@dataclass
class _Walk:
    git: Git
    ctx: ImportContext
    options: MineOptions
    engine: str
    label: str
    attributes: tuple[str, ...]  # paths of .gitattributes files to give each replay


def mine_merges(ctx: ImportContext, options: MineOptions) -> Iterator[Task]:
    """Tasks from every conflict hunk of the merges walked; figures go to ctx.stats."""
    if not options.repo.exists():
        raise InputError(f"{options.repo}: no such directory")
    if options.rev.startswith("-") and options.rev != "--all":
        raise InputError(f"--rev {options.rev!r}: a revision cannot start with '-'")
    git = Git(options.repo)
    extra = ctx.stats.extra
    for key in ("merge commits walked", "merges with conflicts", "conflicted files",
                "conflict hunks"):  # fmt: skip
        extra[key] = 0
    try:
        engine = choose_engine(git, options.engine)
        if engine == "merge-file" and options.engine == "auto":
            log.warning(_OLD_GIT)
        label = options.repo_name or repo_label(git)
        walk = _Walk(git, ctx, options, engine, label, _attribute_files(git, options.rev))
        for commit, ours, theirs in _merges(git, ctx, options):
            extra["merge commits walked"] += 1
            if extra["merge commits walked"] % 200 == 0:
                log.info("walked %d merges", extra["merge commits walked"])
            yield from _mine_commit(walk, commit, ours, theirs)
        if not extra["merge commits walked"]:
            _say_why_none(git, options)
    finally:
        git.close()
    ctx.stats.rows = extra["conflict hunks"]


def _merges(git: Git, ctx: ImportContext, options: MineOptions) -> list[tuple[str, str, str]]:
    """Two-parent merges, newest first, after the cap (which is counted, never silent)."""
    args = ["rev-list", "--merges", "--parents"]
    if options.since:
        args.append(f"--since={options.since}")
    listed = [line.split() for line in git.run(*args, options.rev, "--").split("\n") if line]
    octopus = sum(len(parents) > 3 for parents in listed)
    if octopus:
        ctx.stats.skipped["octopus merge (3+ parents)"] += octopus
    merges = [(c, a, b) for c, a, b, *more in listed if not more]
    cap = options.max_commits
    if cap is not None:
        beyond = max(0, len(merges) - cap)
        ctx.stats.extra["merge commits beyond --max-commits"] = beyond
        if beyond:
            log.info("--max-commits %d: %d older merge commits not walked", cap, beyond)
        merges = merges[:cap]
    return merges


def _attribute_files(git: Git, rev: str) -> tuple[str, ...]:
    """Where .gitattributes files sit: the root, and every folder that has one at the tip."""
    tip = "HEAD" if rev == "--all" else rev
    listed = git.run("ls-tree", "-r", "-z", "--name-only", tip, "--", check=False).split("\0")
    nested = {p for p in listed if p.endswith("/.gitattributes")}
    return (".gitattributes", *sorted(nested))


def _say_why_none(git: Git, options: MineOptions) -> None:
    shallow = git.run("rev-parse", "--is-shallow-repository", check=False).strip() == "true"
    # A shallow clone is worth a warning; a history without merges is just a fact (and a
    # nightly cron job must not mail it every night).
    (log.warning if shallow else log.info)(
        "%s: no two-parent merge commits reachable from %s%s",
        options.repo,
        "any ref" if options.rev == "--all" else options.rev,
        " (a shallow clone: `git fetch --unshallow` brings the history)" if shallow else "",
    )


def _mine_commit(walk: _Walk, commit: str, ours: str, theirs: str) -> Iterator[Task]:
    git, ctx, options = walk.git, walk.ctx, walk.options
    bases = git.run("merge-base", "--all", ours, theirs, check=False).split()
    if len(bases) != 1:
        ctx.skip("merge with several merge bases" if bases else "merge of unrelated histories")
        return
    if walk.engine == "ort":
        git.use_attributes_of(ours, walk.attributes)  # a developer merges in ours' checkout
        conflicts = replay_ort(git, ours, theirs)
    else:
        conflicts = replay_per_file(git, git.scratch, bases[0], ours, theirs)
    ctx.stats.extra["merges with conflicts"] += bool(conflicts)
    for conflict in conflicts:
        if not _wanted(conflict.path, options):
            ctx.skip("file outside --include/--exclude")
            continue
        ctx.stats.extra["conflicted files"] += 1
        if conflict.reason:
            ctx.skip(conflict.reason)
            continue
        texts = _texts(walk, conflict, f"{commit}:{conflict.path}")
        if texts is None:
            continue
        base, side_ours, side_theirs, merged, committed = texts
        try:
            items = split_diff3(merged, (side_ours, base, side_theirs), conflict.marker_size)
        except ValueError as exc:
            ctx.skip(str(exc))
            continue
        results = mine_file(items, split_lines(committed), options.limits, conflict.marker_size)
        yield from _tasks(walk, results, conflict.path, commit, (ours, theirs), bases[0])


def _wanted(path: str, options: MineOptions) -> bool:
    if options.include and not any(fnmatch.fnmatchcase(path, g) for g in options.include):
        return False
    return not any(fnmatch.fnmatchcase(path, g) for g in options.exclude)


def _texts(walk: _Walk, conflict: Conflicted, committed: str) -> tuple[str, ...] | None:
    """base, ours, theirs, git's merge and the committed text, or None (counted) when the
    file cannot be mined."""
    git, ctx = walk.git, walk.ctx
    blobs = [
        b"" if conflict.base is None else git.blob(conflict.base),
        git.blob(conflict.ours or ""),
        git.blob(conflict.theirs or ""),
        conflict.merged,
        git.blob(committed),
    ]
    if blobs[4] is None:
        ctx.skip("file deleted in the merge")
        return None
    texts = []
    for blob in blobs:
        if blob is None:
            ctx.skip("unreadable git object")
            return None
        if len(blob) > walk.options.max_file_bytes:
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
    return tuple(texts)


def _tasks(
    walk: _Walk,
    results: list[Mined | str],
    path: str,
    commit: str,
    parents: tuple[str, str],
    base: str,
) -> Iterator[Task]:
    ctx, language = walk.ctx, language_of(path)
    for number, result in enumerate(results, start=1):
        ctx.stats.extra["conflict hunks"] += 1
        if isinstance(result, str):
            ctx.skip(result)
            continue
        meta = {
            "language": language,
            "resolution_side": result.side,
            "repo": walk.label,
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

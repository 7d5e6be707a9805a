"""Read-only access to the repository merges are mined from, and the name it goes by.

Every command runs against a scratch directory: objects git writes (the trees `merge-tree`
builds) go to a temporary object store that borrows the repository's as an alternate, the index
is a file that does not exist, and the work tree is an empty folder holding only the
`.gitattributes` files of the merge being replayed. So the repository's work tree, index, refs
and object store are never written, and a replay sees the attributes its developer saw.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from distill.errors import InputError

_VERSION = re.compile(r"git version (\d+)\.(\d+)")


class Git:
    """Commands and a `cat-file --batch` reader over one repository, writing only to scratch."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        base = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
        for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
            base.pop(name, None)
        try:
            found = _run(["git", "-C", str(repo), "rev-parse", "--absolute-git-dir",
                          "--git-path", "objects"], base, None).split("\n")  # fmt: skip
        except FileNotFoundError:
            raise InputError("git is not installed (needed to mine merges)") from None
        except InputError as exc:  # git's own words say why: not a repository, unsafe owner
            raise InputError(f"{repo}: not a usable git repository ({exc})") from None
        git_dir, objects = Path(found[0]), repo / found[1]
        self._scratch = tempfile.TemporaryDirectory(prefix="distill-merge-")
        self.scratch = Path(self._scratch.name)
        self.work_tree = self.scratch / "attributes"
        self.work_tree.mkdir()
        (self.scratch / "objects").mkdir()
        self.env = {
            **base,
            "GIT_DIR": str(git_dir),
            "GIT_WORK_TREE": str(self.work_tree),
            "GIT_INDEX_FILE": str(self.scratch / "no-index"),
            "GIT_OBJECT_DIRECTORY": str(self.scratch / "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": _quoted(str(objects.resolve())),
        }
        self._batch: subprocess.Popen[bytes] | None = None
        self._attributes: dict[str, bytes] = {}

    def run(self, *args: str, check: bool = True) -> str:
        try:
            return _run(["git", *args], self.env, self.work_tree, check)
        except InputError as exc:
            raise InputError(f"{self.repo}: git {args[0]} failed: {exc}") from None

    def run_status(self, *args: str) -> tuple[int, str]:
        """A command whose exit status is an answer (merge-tree: 1 = conflicts), and its output."""
        done = subprocess.run(
            ["git", *args], capture_output=True, env=self.env, cwd=self.work_tree, check=False
        )
        if done.returncode > 1:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InputError(f"{self.repo}: git {args[0]} failed: {(message or ['?'])[0]}")
        return done.returncode, done.stdout.decode("utf-8", "surrogateescape")

    def version(self) -> tuple[int, int]:
        found = _VERSION.search(self.run("version"))
        return (int(found[1]), int(found[2])) if found else (0, 0)

    def blob(self, spec: str) -> bytes | None:
        """A blob by id or `rev:path`; None if there is none."""
        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=self.env, cwd=self.work_tree,
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

    def use_attributes_of(self, commit: str, paths: tuple[str, ...]) -> None:
        """Put `commit`'s .gitattributes files (at `paths`) in the scratch work tree, where
        merge-tree looks for merge drivers; rewrite only what changed since the last commit."""
        wanted = {p: b for p in paths if (b := self.blob(f"{commit}:{p}")) is not None}
        if wanted == self._attributes:
            return
        for path in self._attributes.keys() - wanted.keys():
            (self.work_tree / path).unlink()
        for path, data in wanted.items():
            target = self.work_tree / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self._attributes = wanted

    def close(self) -> None:
        if self._batch is not None:
            assert self._batch.stdin is not None
            self._batch.stdin.close()
            self._batch.wait()
            if self._batch.stdout is not None:  # else a ResourceWarning when it is collected
                self._batch.stdout.close()
            self._batch = None
        self._scratch.cleanup()


def _quoted(path: str) -> str:
    """A path for a colon-separated git list: C-quoted when it holds a colon or a quote."""
    if ":" not in path and not path.startswith('"'):
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run(argv: list[str], env: dict[str, str], cwd: Path | None, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False)
    if check and done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        raise InputError((fatal or lines or [f"exit status {done.returncode}"])[0])
    return done.stdout.decode("utf-8", "surrogateescape")


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            raise InputError("git cat-file ended early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def repo_label(git: Git) -> str:
    """What the repository is called: its remote URL (origin first) without credentials, or
    its folder's name when it has no remote."""
    remotes = sorted(git.run("remote", check=False).split(), key=lambda r: r != "origin")
    for remote in remotes:
        url = git.run("config", "--get", f"remote.{remote}.url", check=False).strip()
        if url:
            return strip_credentials(url)
    path = git.repo.resolve()
    return path.name.removesuffix(".git") or path.name


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x.git?key=…` → `https://host/x.git`; scp-style
    `git@host:x.git` has a user name but no secret and is kept."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def short_name(label: str) -> str:
    """The last two parts of a URL's path (`owner/repo`), or of a name as given."""
    path = label.rstrip("/")
    if "://" in path:
        path = urlsplit(path).path
    elif re.match(r"^[\w.-]+@[\w.-]+:", path):  # scp-style user@host:path
        path = path.split(":", 1)[1]
    elif path.startswith(("/", ".", "~")):
        return Path(path).name.removesuffix(".git")
    parts = [p for p in path.removesuffix(".git").split("/") if p]
    return "/".join(parts[-2:]) or label

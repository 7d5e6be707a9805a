"""Merge mining on real git repositories built here with known conflicts and resolutions."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from distill.cli import main
from distill.config import PromptsConfig
from distill.errors import InputError
from distill.grade import merge as merge_grader
from distill.prompts import PromptLibrary, PromptRenderer
from distill.records import Sample, Task, read_tasks
from distill.sources import ImportContext, MineOptions, import_merges
from distill.sources.merge_hunks import Hunk, Limits, mine_file, split_diff3

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(
    repo: Path, *args: str, date: str = "2020-01-01T12:00:00", ok: tuple[int, ...] = (0,)
) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode in ok, (args, done.stdout, done.stderr)
    return done.stdout


def commit_file(repo: Path, path: str, text: str, message: str, date: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message, date=date)


def merge_case(
    repo: Path, path: str, base: str, ours: str, theirs: str, resolved: str | None, date: str
) -> None:
    """base on main, ours on main, theirs on a branch; merge it and commit `resolved`."""
    commit_file(repo, path, base, f"base {path}", date)
    git(repo, "checkout", "-q", "-b", "side")
    commit_file(repo, path, theirs, f"theirs {path}", date)
    git(repo, "checkout", "-q", "main")
    commit_file(repo, path, ours, f"ours {path}", date)
    if resolved is None:  # a clean merge
        git(repo, "merge", "-q", "--no-edit", "side", date=date)
    else:
        git(repo, "merge", "-q", "side", ok=(1,), date=date)
        (repo / path).write_text(resolved)
        git(repo, "add", path)
        git(repo, "commit", "-q", "--no-edit", date=date)
    git(repo, "branch", "-q", "-D", "side")


PY_BASE = "import os\n\n\ndef total(items):\n    return sum(items)\n\n\ndef mean(items):\n    return total(items) / len(items)\n"
PY_OURS = PY_BASE.replace("return sum(items)", "return sum(items, 0)")
PY_THEIRS = PY_BASE.replace("return sum(items)", "return sum(x for x in items)")

YAML_BASE = "name: app\nport: 8080\nworkers: 2\nlog: info\n"
YAML_OURS = YAML_BASE.replace("port: 8080", "port: 9090")
YAML_THEIRS = YAML_BASE.replace("port: 8080", "port: 8081\ntimeout: 30")

GO_BASE = 'package server\n\nimport (\n\t"fmt"\n\t"net/http"\n)\n\nfunc handler(w http.ResponseWriter, r *http.Request) {\n\tfmt.Fprintln(w, "ok")\n}\n'
GO_OURS = GO_BASE.replace('\t"net/http"\n', '\t"net/http"\n\t"strings"\n')
GO_THEIRS = GO_BASE.replace('\t"net/http"\n', '\t"net/http"\n\t"time"\n')
GO_RESOLVED = GO_BASE.replace('\t"net/http"\n', '\t"net/http"\n\t"strings"\n\t"time"\n')

SAME = "same line\n" * 25
TXT_BASE = SAME + "value = 1\n" + SAME
TXT_OURS = SAME + "value = 2\n" + SAME
TXT_THEIRS = SAME + "value = 3\n" + SAME
TXT_RESOLVED = SAME + "value = 5\n" + SAME

MD_BASE = "# Notes\n\nfirst\nsecond\nthird\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six merges, oldest first: ours-equal (py), theirs-equal (yaml), clean, combined (go),
    ambiguous (txt), and a markdown conflict; dated a year apart."""
    repo = tmp_path_factory.mktemp("repo")
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "README", "hello\n", "init", "2019-01-01T12:00:00")
    merge_case(repo, "src/calc.py", PY_BASE, PY_OURS, PY_THEIRS, PY_OURS, "2020-01-01T12:00:00")
    merge_case(
        repo,
        "deploy/app.yaml",
        YAML_BASE,
        YAML_OURS,
        YAML_THEIRS,
        YAML_THEIRS,
        "2021-01-01T12:00:00",
    )
    merge_case(
        repo,
        "clean.txt",
        "a\nb\nc\nd\ne\nf\n",
        "A\nb\nc\nd\ne\nf\n",
        "a\nb\nc\nd\ne\nF\n",
        None,
        "2022-01-01T12:00:00",
    )
    merge_case(
        repo, "server/handler.go", GO_BASE, GO_OURS, GO_THEIRS, GO_RESOLVED, "2023-01-01T12:00:00"
    )
    merge_case(
        repo, "data.txt", TXT_BASE, TXT_OURS, TXT_THEIRS, TXT_RESOLVED, "2024-01-01T12:00:00"
    )
    md_ours, md_theirs = MD_BASE.replace("second", "2nd"), MD_BASE.replace("second", "two")
    merge_case(
        repo,
        "docs/notes.md",
        MD_BASE,
        md_ours,
        md_theirs,
        MD_BASE.replace("second", "2"),
        "2025-01-01T12:00:00",
    )
    return repo


def mine(repo: Path, **options: Any) -> tuple[list[Task], ImportContext]:
    ctx = ImportContext("git-test")
    tasks = import_merges(ctx, MineOptions(repo=repo, **options))
    return tasks, ctx


def by_path(tasks: list[Task]) -> dict[str, Task]:
    return {t.meta["path"]: t for t in tasks}


def test_mines_every_conflict_with_its_committed_resolution(repo: Path) -> None:
    tasks, ctx = mine(repo)
    extra = ctx.stats.extra
    assert extra["merge commits walked"] == 6
    assert extra["merges with conflicts"] == 5  # the clean merge has none
    assert extra["conflict hunks"] == 5
    assert dict(ctx.stats.skipped) == {"ambiguous context": 1}
    found = by_path(tasks)
    assert sorted(found) == ["deploy/app.yaml", "docs/notes.md", "server/handler.go", "src/calc.py"]

    py = found["src/calc.py"]
    assert py.kind == "merge" and py.meta["language"] == "python"
    assert py.meta["resolution_side"] == "ours"
    assert py.prompt == (
        "import os\n\n\ndef total(items):\n"
        "<<<<<<< ours\n    return sum(items, 0)\n"
        "||||||| base\n    return sum(items)\n"
        "=======\n    return sum(x for x in items)\n"
        ">>>>>>> theirs\n"
        "\n\ndef mean(items):\n    return total(items) / len(items)\n"
    )
    assert py.reference["conflict"] == py.prompt
    assert py.reference["resolution"] == PY_OURS
    assert py.reference["language"] == "python"

    assert found["deploy/app.yaml"].meta["resolution_side"] == "theirs"
    assert found["deploy/app.yaml"].reference["resolution"] == YAML_THEIRS
    go = found["server/handler.go"]
    assert go.meta["resolution_side"] == "combined"
    assert go.meta["language"] == "go"
    assert go.reference["resolution"] == GO_RESOLVED  # the 5 context lines reach both ends
    assert found["docs/notes.md"].meta["language"] == "markdown"
    assert extra["kept, resolved as ours"] == 1
    assert extra["kept, resolved as theirs"] == 1
    assert extra["kept, resolved as combined"] == 2

    merge = go.meta["commit"]
    parents = git(repo, "rev-list", "--parents", "-n1", merge).split()[1:]
    assert go.meta["parents"] == parents
    assert go.meta["line"] == 6  # `"strings"` in the committed file


def test_context_shown_is_limited_and_stops_at_file_edges(repo: Path) -> None:
    tasks, _ = mine(repo, limits=Limits(context=1))
    py = by_path(tasks)["src/calc.py"]
    lines = str(py.prompt).splitlines()
    assert lines[0] == "def total(items):" and lines[-1] == ""
    assert py.reference["resolution"] == "def total(items):\n    return sum(items, 0)\n\n"
    yaml = by_path(tasks)["deploy/app.yaml"]
    assert str(yaml.prompt).startswith("name: app\n<<<<<<< ours\n")


def test_mined_tasks_render_and_grade_like_the_bundled_examples(repo: Path) -> None:
    tasks, _ = mine(repo)
    renderer = PromptRenderer(PromptLibrary.load(), PromptsConfig())
    for task in tasks:
        text = renderer.messages(task)[-1]["content"]
        fence = f"```{task.meta['language']}\n{task.prompt}\n```"
        assert fence in text

        def verdict(answer: str, task: Task = task) -> tuple[str, str]:
            sample = Sample(task.id, 0, "t", "k", [], "ok", content=f"```\n{answer}```\n")
            v = merge_grader.grade(task, sample, {})
            return v.status, v.reason

        assert verdict(task.reference["resolution"]) == ("pass", "exact")
        assert verdict(str(task.prompt)) == ("fail", "abstained")


def test_globs_since_and_commit_cap(repo: Path) -> None:
    tasks, ctx = mine(repo, include=("*.py", "*.go"))
    assert sorted(by_path(tasks)) == ["server/handler.go", "src/calc.py"]
    # conflicted files only: git merges clean.txt without a conflict
    assert ctx.stats.skipped["file outside --include/--exclude"] == 3

    tasks, _ = mine(repo, exclude=("docs/*", "*.yaml"))
    assert sorted(by_path(tasks)) == ["server/handler.go", "src/calc.py"]

    tasks, _ = mine(repo, include=("*.rs",))
    assert tasks == []

    tasks, ctx = mine(repo, since="2022-06-01")
    assert ctx.stats.extra["merge commits walked"] == 3
    assert sorted(by_path(tasks)) == ["docs/notes.md", "server/handler.go"]

    tasks, ctx = mine(repo, max_commits=2)  # newest first
    assert ctx.stats.extra["merge commits walked"] == 2
    assert sorted(by_path(tasks)) == ["docs/notes.md"]


def test_size_limits_drop_and_count(repo: Path) -> None:
    tasks, ctx = mine(repo, limits=Limits(max_hunk_lines=3))
    # the yaml hunk has 1 + 1 + 2 lines; the others 3 at most
    assert sorted(by_path(tasks)) == ["docs/notes.md", "server/handler.go", "src/calc.py"]
    assert ctx.stats.skipped["hunk over --max-hunk-lines"] == 1
    tasks, ctx = mine(repo, limits=Limits(max_prompt_tokens=30))
    assert ctx.stats.skipped["prompt over --max-prompt-tokens"] >= 2
    assert tasks and all(len(t.prompt or "") <= 120 for t in tasks)  # 30 tokens: 120 chars
    tasks, ctx = mine(repo, limits=Limits(max_resolution_tokens=10))
    assert ctx.stats.skipped["resolution over --max-resolution-tokens"] >= 2
    assert all(len(t.reference["resolution"]) <= 40 for t in tasks)


def test_the_repository_is_never_modified(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    objects = git(repo, "count-objects", "-v")
    refs = git(repo, "for-each-ref")
    (repo / "untracked.txt").write_text("mine\n")
    try:
        mine(repo)
        assert git(repo, "rev-parse", "HEAD") == head
        assert git(repo, "count-objects", "-v") == objects
        assert git(repo, "for-each-ref") == refs
        assert git(repo, "status", "--porcelain") == "?? untracked.txt\n"
        assert not list(repo.glob(".git/*.lock"))
    finally:
        (repo / "untracked.txt").unlink()


def test_cli_writes_tasks_and_reimport_adds_nothing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "merges.jsonl"
    assert main(["import", "merges", "--repo", str(repo), "-o", str(out)]) == 0
    table = capsys.readouterr().out
    for label in (
        "merge commits walked",
        "conflict hunks",
        "dropped: ambiguous context",
        "imported",
    ):
        assert label in table
    first = read_tasks([out])
    assert len(first) == 4 and all(t.source == f"git-{repo.name}" for t in first)
    assert (
        main(["import", "merges", "--repo", str(repo), "-o", str(out), "--append", "--quiet"]) == 0
    )
    assert [t.id for t in read_tasks([out])] == [t.id for t in first]


def test_not_a_repository_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a git repository"):
        mine(tmp_path)
    with pytest.raises(InputError, match="no such directory"):
        mine(tmp_path / "nope")


def test_split_diff3_and_anchor_at_file_start() -> None:
    text = "<<<<<<< ours\na\n||||||| base\nb\n=======\nc\n>>>>>>> theirs\nend\n"
    items = split_diff3(text)
    assert items == [Hunk(("a\n",), ("b\n",), ("c\n",)), "end\n"]
    # the hunk starts the file: the file start anchors it even though "end" alone is common
    [mined] = mine_file(items, ["ac\n", "end\n"], Limits())
    assert not isinstance(mined, str)
    assert mined.resolution == "ac\nend\n" and mined.side == "combined"
    # two hunks with no line between them cannot be told apart
    both = split_diff3(text.replace("end\n", "") + text)
    assert mine_file(both, ["x\n", "end\n"], Limits())[0] == "no context (next to another hunk)"


def test_files_that_cannot_be_mined_are_skipped_and_counted(tmp_path: Path) -> None:
    repo = tmp_path / "odd"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "README", "hello\n", "init", "2020-01-01T12:00:00")
    date = "2020-02-01T12:00:00"
    # a binary file, and a file whose text already has a marker-like line (mined all the same)
    merge_case(repo, "blob.bin", "a\0b\n", "a\0c\n", "a\0d\n", "a\0e\n", date)
    merge_case(
        repo,
        "doc.rst",
        "Title\n=======\n\nold\n",
        "Title\n=======\n\nours\n",
        "Title\n=======\n\ntheirs\n",
        "Title\n=======\n\nboth\n",
        date,
    )
    # the developer also rewrote the context next to the hunk: its resolution cannot be trusted
    base = "".join(f"line {i}\n" for i in range(12))
    merge_case(
        repo,
        "evil.txt",
        base,
        base.replace("line 6", "ours 6"),
        base.replace("line 6", "theirs 6"),
        base.replace("line 5", "edited 5").replace("line 6", "both 6"),
        date,
    )
    # modify/delete: ours edits, theirs deletes, the developer keeps ours
    commit_file(repo, "gone.py", "x = 1\n", "add gone", date)
    git(repo, "checkout", "-q", "-b", "side")
    git(repo, "rm", "-q", "gone.py")
    git(repo, "commit", "-q", "-m", "delete", date=date)
    git(repo, "checkout", "-q", "main")
    commit_file(repo, "gone.py", "x = 2\n", "edit", date)
    git(repo, "merge", "-q", "side", ok=(1,), date=date)
    git(repo, "add", "gone.py")
    git(repo, "commit", "-q", "--no-edit", date=date)

    tasks, ctx = mine(repo)
    assert [t.meta["path"] for t in tasks] == ["doc.rst"]
    assert tasks[0].reference["resolution"] == "Title\n=======\n\nboth\n"
    assert ctx.stats.extra["merge commits walked"] == 4
    assert dict(ctx.stats.skipped) == {
        "binary file": 1,
        "context changed in the merge": 1,
        "modify/delete conflict": 1,
    }
    # the per-file fallback (git < 2.38) counts the same drops
    assert dict(mine(repo, engine="merge-file")[1].stats.skipped) == dict(ctx.stats.skipped)


def test_a_conflict_holding_fences_gets_a_longer_prompt_fence() -> None:
    # A Markdown conflict with ``` lines must not close the prompt's own fence early.
    prompt = (
        "# Docs\n<<<<<<< ours\n```python\nx = 1\n```\n=======\n````\nraw\n````\n>>>>>>> theirs\n"
    )
    task = Task(id="m1", kind="merge", prompt=prompt, meta={"language": "markdown"})
    text = PromptRenderer(PromptLibrary.load(), PromptsConfig()).messages(task)[-1]["content"]
    assert f"`````markdown\n{prompt}\n`````" in text

"""Merge truth: the conflicts mined are the ones `git merge` showed the developer, the defaults
keep what a student can learn from, and the grader reads resolutions the way Markdown does.

Every case is a real git repository built here; each test is one class of the issue."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_merge_mining import commit_file, git, merge_case, mine

from distill.cli import main
from distill.grade import merge as merge_grader
from distill.records import Sample, Task, read_tasks
from distill.sources import MineOptions
from distill.sources.merge_hunks import Limits

DATE = "2021-03-01T12:00:00"


def new_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_file(path, "README", "hello\n", "init", DATE)
    return path


def commit_bytes(repo: Path, files: dict[str, str], message: str) -> None:
    """Commit the texts exactly (no newline translation either way)."""
    for path, text in files.items():
        (repo / path).write_bytes(text.encode())
        git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message, date=DATE)


def conflicted_merge(repo: Path, files: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """Commit base, then ours on main and theirs on a branch, run `git merge` (diff3 style) and
    return what it wrote into each file; the caller commits the resolution."""
    commit_bytes(repo, {path: sides[0] for path, sides in files.items()}, "base")
    git(repo, "checkout", "-q", "-b", "side")
    commit_bytes(repo, {path: sides[2] for path, sides in files.items()}, "theirs")
    git(repo, "checkout", "-q", "main")
    commit_bytes(repo, {path: sides[1] for path, sides in files.items()}, "ours")
    git(repo, "-c", "merge.conflictStyle=diff3", "merge", "-q", "side", ok=(1,), date=DATE)
    return {path: (repo / path).read_bytes().decode() for path in files}


def resolve(repo: Path, resolved: dict[str, str]) -> None:
    for path, text in resolved.items():
        (repo / path).write_bytes(text.encode())
        git(repo, "add", path)
    git(repo, "commit", "-q", "--no-edit", date=DATE)
    git(repo, "branch", "-q", "-D", "side")


def as_prompt(seen: str) -> str:
    """git merge's labels (HEAD, side, the base's short id) → the prompt's ours/base/theirs."""
    seen = re.sub(r"^<{7} .*$", "<<<<<<< ours", seen, flags=re.MULTILINE)
    seen = re.sub(r"^\|{7} .*$", "||||||| base", seen, flags=re.MULTILINE)
    return re.sub(r"^>{7} .*$", ">>>>>>> theirs", seen, flags=re.MULTILINE)


# --- the diff algorithm git merge uses -------------------------------------------------------

# Found by search: myers (`git merge-file`) and histogram (ort, `git merge`) disagree here.
HIST_BASE = "}\n}\n{\n{\n{\nb();\n{\nb();\n"
HIST_OURS = "}\n}\n{\n{\nb();\nreturn;\n{\nb();\n"
HIST_THEIRS = "}\n}\n{\n{\n{\n{\nb();\n{\nb();\n"
HIST_RESOLVED = "}\n}\n{\n{\n{\n{\nb();\nreturn;\n{\nb();\n"


def test_conflict_is_the_one_git_merge_showed_not_myers(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "hist")
    seen = conflicted_merge(repo, {"f.c": (HIST_BASE, HIST_OURS, HIST_THEIRS)})["f.c"]
    resolve(repo, {"f.c": HIST_RESOLVED})
    for name, text in (("o", HIST_OURS), ("b", HIST_BASE), ("t", HIST_THEIRS)):
        (tmp_path / name).write_text(text)
    myers = subprocess.run(
        ["git", "merge-file", "-p", "--diff3", "-L", "ours", "-L", "base", "-L", "theirs"]
        + [str(tmp_path / n) for n in "obt"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert myers != as_prompt(seen)  # the two algorithms place this conflict differently

    [task] = mine(repo)[0]
    assert task.prompt == as_prompt(seen)
    assert task.reference["resolution"] == HIST_RESOLVED
    [old_style] = mine(repo, engine="merge-file")[0]  # the fallback for git < 2.38
    assert old_style.prompt == myers


# --- .gitattributes merge drivers ------------------------------------------------------------


def test_union_merge_driver_file_is_not_a_conflict_even_in_a_bare_clone(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "union")
    commit_file(repo, ".gitattributes", "CHANGES merge=union\n", "attributes", DATE)
    app = ("x = 1\n", "x = 2\n", "x = 3\n")
    changes = ("v1\n", "v1\nours\n", "v1\ntheirs\n")
    seen = conflicted_merge(repo, {"app.py": app, "CHANGES": changes})
    assert "<<<<<<<" not in seen["CHANGES"]  # git merge itself unions it
    resolve(repo, {"app.py": "x = 4\n", "CHANGES": seen["CHANGES"]})
    # the attribute is gone from today's checkout: the merge's own attributes still count
    git(repo, "rm", "-q", ".gitattributes")
    git(repo, "commit", "-q", "-m", "drop attributes", date=DATE)
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    for where in (repo, bare):
        tasks, ctx = mine(where)
        assert [t.meta["path"] for t in tasks] == ["app.py"]
        assert ctx.stats.extra["conflicted files"] == 1


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_replay_writes_nothing_into_the_repository(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "odd:name")  # a colon, as in git's list of object directories
    commit_file(repo, ".gitattributes", "CHANGES merge=union\n", "attributes", DATE)
    conflicted_merge(repo, {"app.py": ("x = 1\n", "x = 2\n", "x = 3\n")})
    resolve(repo, {"app.py": "x = 4\n"})
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    for where in (repo, bare):
        before = snapshot(where)
        assert len(mine(where)[0]) == 1
        assert snapshot(where) == before  # no object, index, lock or log written


# --- renames -----------------------------------------------------------------------------------

RENAME_BASE = "".join(f"line {i}\n" for i in range(12))


def test_rename_on_one_side_with_an_edit_on_the_other(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "rename")
    commit_file(repo, "old.py", RENAME_BASE, "base", DATE)
    git(repo, "checkout", "-q", "-b", "side")
    commit_file(repo, "old.py", RENAME_BASE.replace("line 6", "theirs 6"), "edit", DATE)
    git(repo, "checkout", "-q", "main")
    git(repo, "mv", "old.py", "new.py")
    commit_file(repo, "new.py", RENAME_BASE.replace("line 6", "ours 6"), "rename + edit", DATE)
    git(repo, "merge", "-q", "side", ok=(1,), date=DATE)
    assert "<<<<<<<" in (repo / "new.py").read_text()  # git follows the rename
    resolve(repo, {"new.py": RENAME_BASE.replace("line 6", "both 6")})

    [task] = mine(repo)[0]
    assert task.meta["path"] == "new.py"
    assert "<<<<<<< ours\nours 6\n||||||| base\nline 6\n=======\ntheirs 6\n" in str(task.prompt)
    assert "both 6\n" in task.reference["resolution"]


# --- lines split on \n only ------------------------------------------------------------------

ODD = ["\u2028", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\x0b", "\r", "\u2029"]
ODD_CONTEXT = "".join(f"keep{sep}this {i}\n" for i, sep in enumerate(ODD))


def test_other_line_separators_survive_byte_for_byte(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "seps")
    base = ODD_CONTEXT + "value\u2028= 1\x0c\n" + ODD_CONTEXT
    ours, theirs = base.replace("= 1", "= 2"), base.replace("= 1", "= 3")
    conflicted_merge(repo, {"notes.txt": (base, ours, theirs)})
    resolve(repo, {"notes.txt": base.replace("= 1", "= 4")})

    out = tmp_path / "tasks.jsonl"
    assert main(["import", "merges", "--repo", str(repo), "-o", str(out), "--quiet"]) == 0
    [task] = read_tasks([out])
    rows = [line + "\n" for line in ODD_CONTEXT.split("\n")[:-1]]
    assert len(rows) == len(ODD) < len(ODD_CONTEXT.splitlines())  # splitlines cuts them
    before, after = "".join(rows[-5:]), "".join(rows[:5])
    assert task.reference["resolution"] == before + "value\u2028= 4\x0c\n" + after
    assert str(task.prompt).startswith(before + "<<<<<<< ours\nvalue\u2028= 2\x0c\n")
    assert str(task.prompt).endswith(">>>>>>> theirs\n" + after)


# --- a line of seven '=' is text, not a marker ----------------------------------------------

RST_BASE = "Title\n=======\n\nintro\n\nend\n"
RST_OURS = RST_BASE.replace("intro\n", "intro\n\nUsage\n=======\n\nrun it\n")
RST_THEIRS = RST_BASE.replace("intro\n", "intro\n\nInstall\n=======\n\npip install\n")
RST_RESOLVED = RST_BASE.replace(
    "intro\n", "intro\n\nInstall\n=======\n\npip install\n\nUsage\n=======\n\nrun it\n"
)


def test_rst_heading_underlines_do_not_make_a_file_unminable(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "rst")
    seen = conflicted_merge(repo, {"doc.rst": (RST_BASE, RST_OURS, RST_THEIRS)})["doc.rst"]
    resolve(repo, {"doc.rst": RST_RESOLVED})
    tasks, ctx = mine(repo)
    assert not ctx.stats.skipped
    [task] = tasks
    # the underlines inside ours and theirs stay text; only git's own separator splits them
    assert "<<<<<<< ours\nUsage\n=======\n" in str(task.prompt)
    assert task.prompt == as_prompt(seen)
    assert task.reference["resolution"] == RST_RESOLVED
    assert task.meta["resolution_side"] == "combined"


# --- defaults that keep real conflicts, drops printed by reason --------------------------------


def big_hunk_repo(path: Path) -> Path:
    """Two merges: one 40-line conflict (past the old 30-line default), one small."""
    repo = new_repo(path)
    head, tail = "# start\n", "# end\n"
    big_base = head + "".join(f"row {i}\n" for i in range(40)) + tail
    big_ours = head + "".join(f"ours row {i}\n" for i in range(40)) + tail
    big_theirs = head + "".join(f"theirs row {i}\n" for i in range(40)) + tail
    merge_case(repo, "big.txt", big_base, big_ours, big_theirs, big_ours, DATE)
    merge_case(repo, "small.py", "x = 1\n", "x = 2\n", "x = 3\n", "x = 2\n", "2021-04-01T12:00:00")
    return repo


def test_defaults_keep_long_hunks_and_walk_the_whole_history(tmp_path: Path) -> None:
    repo = big_hunk_repo(tmp_path / "big")
    assert MineOptions(repo=repo).max_commits is None
    tasks, ctx = mine(repo)
    assert sorted(t.meta["path"] for t in tasks) == ["big.txt", "small.py"]
    assert not ctx.stats.skipped
    assert "merge commits beyond --max-commits" not in ctx.stats.extra

    tasks, ctx = mine(repo, limits=Limits(max_prompt_tokens=100), max_commits=1)
    assert ctx.stats.extra["merge commits walked"] == 1
    assert ctx.stats.extra["merge commits beyond --max-commits"] == 1
    assert [t.meta["path"] for t in tasks] == ["small.py"]
    tasks, ctx = mine(repo, limits=Limits(max_prompt_tokens=100))
    assert dict(ctx.stats.skipped) == {"prompt over --max-prompt-tokens": 1}


def test_cli_prints_drops_by_reason_and_the_cap_it_was_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = big_hunk_repo(tmp_path / "big")
    out = tmp_path / "tasks.jsonl"
    argv = ["import", "merges", "--repo", str(repo), "-o", str(out)]
    assert main([*argv, "--max-resolution-tokens", "50", "--max-commits", "1"]) == 0
    table = capsys.readouterr().out
    assert "merge commits beyond --max-commits" in table
    assert main([*argv, "--max-resolution-tokens", "50", "--max-hunk-lines", "200"]) == 0
    table = capsys.readouterr().out
    assert "dropped: resolution over --max-resolution-tokens" in table
    assert "beyond --max-commits" not in table
    assert [t.meta["path"] for t in read_tasks([out])] == ["small.py"]
    assert main([*argv, "--max-hunk-lines", "30"]) == 0
    assert "dropped: hunk over --max-hunk-lines" in capsys.readouterr().out


# --- the repository's name, not its folder's ------------------------------------------------


def test_meta_repo_and_source_name_the_remote_without_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "checkout"
    new_repo(repo)
    merge_case(repo, "a.py", "x = 1\n", "x = 2\n", "x = 3\n", "x = 2\n", DATE)
    git(repo, "remote", "add", "aaa-mirror", "https://mirror.example.com/other.git")
    git(repo, "remote", "add", "origin", "https://bot:s3cret@example.com/acme/widgets.git?t=x")
    out = tmp_path / "tasks.jsonl"
    assert main(["import", "merges", "--repo", str(repo), "-o", str(out), "--quiet"]) == 0
    [task] = read_tasks([out])
    assert task.meta["repo"] == "https://example.com/acme/widgets.git"
    assert task.source == "git-acme-widgets"
    assert "s3cret" not in out.read_text() and "bot" not in out.read_text()

    git(repo, "remote", "remove", "origin")
    assert mine(repo)[0][0].meta["repo"] == "https://mirror.example.com/other.git"
    git(repo, "remote", "set-url", "aaa-mirror", "git@example.com:team/tool.git")
    assert mine(repo)[0][0].meta["repo"] == "git@example.com:team/tool.git"

    argv = ["import", "merges", "--repo", str(repo), "-o", str(out), "--quiet"]
    assert main([*argv, "--repo-name", "acme/api"]) == 0
    [task] = read_tasks([out])
    assert task.meta["repo"] == "acme/api" and task.source == "git-acme-api"


# --- the grader reads fences as CommonMark does ---------------------------------------------

MD_RESOLUTION = "# Usage\n\n```python\nrun()\n```\n\nDone.\n"


def grade_md(content: str, resolution: str = MD_RESOLUTION) -> tuple[str, str]:
    task = Task(
        id="m",
        kind="merge",
        prompt="conflict",
        reference={"resolution": resolution, "conflict": "x", "language": "markdown"},
    )
    sample = Sample("m", 0, "t", "k", [], "ok", content=content)
    verdict = merge_grader.grade(task, sample, {})
    return verdict.status, verdict.reason


@pytest.mark.parametrize(
    "content",
    [
        f"Resolved:\n\n````markdown\n{MD_RESOLUTION}````\n",
        f"Resolved:\n\n~~~markdown\n{MD_RESOLUTION}~~~\n",
        f"Resolved:\n\n`````\n{MD_RESOLUTION}``````\n",  # a longer closing fence closes
        f"Draft:\n```\nold\n```\nResolved:\n  ~~~~\n{MD_RESOLUTION}  ~~~~~\n",
    ],
)
def test_grader_reads_long_and_tilde_fences_with_inner_backticks(content: str) -> None:
    assert grade_md(content) == ("pass", "exact")


def test_grader_fence_closes_only_with_the_same_char_and_length() -> None:
    # ``` inside ```` is text; ~~~ never closes ```; the block runs to the real close
    inner = "a\n```\nb\n~~~\nc\n"
    assert grade_md(f"````\n{inner}````\n", resolution=inner) == ("pass", "exact")
    assert grade_md(f"```\n{inner}```\n", resolution=inner)[0] == "fail"  # closes after a
    assert grade_md("```\na\n~~~\n```\n", resolution="a\n~~~\n") == ("pass", "exact")
    # an opening fence indented by N spaces loses up to N spaces on each line
    assert grade_md("  ```\n  a\n    b\n c\n  ```\n", resolution="a\n  b\nc\n") == (
        "pass",
        "exact",
    )
    assert grade_md("````\nnever closed\n```\n", resolution="never closed\n")[1] == "no_block"


def test_grader_rst_underline_in_a_wrong_answer_is_not_markers_left() -> None:
    resolution = "Title\n=======\n\ntext\n"
    assert grade_md("```rst\nTitle\n=======\n\nother\n```\n", resolution)[1] == "incorrect"
    assert grade_md("```\nTitle\n<<<<<<< ours\na\n```\n", resolution)[1] == "markers_left"


def test_mined_markdown_resolution_with_fences_grades_exact(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "md")
    base = "# Doc\n\n```sh\nmake\n```\n\nintro\n"
    ours, theirs = base.replace("intro", "intro: ours"), base.replace("intro", "intro: theirs")
    conflicted_merge(repo, {"README.md": (base, ours, theirs)})
    resolve(repo, {"README.md": base.replace("intro", "intro: both")})
    [task] = mine(repo)[0]
    answer = f"````markdown\n{task.reference['resolution']}````"
    sample = Sample(task.id, 0, "t", "k", [], "ok", content=answer)
    verdict: Any = merge_grader.grade(task, sample, {})
    assert (verdict.status, verdict.reason) == ("pass", "exact")
    assert json.loads(json.dumps(task.to_dict()))["meta"]["language"] == "markdown"


# --- a mixed history: what the defaults keep -------------------------------------------------


def build_mixed_history(path: Path) -> Path:
    """One merge per class above plus plain ones: what the old defaults (30-line hunks, 6000
    prompt characters, per-file myers replay) lost or got wrong, and what every version keeps.
    `python -c` can call it to build a repository for a by-hand comparison."""
    repo = new_repo(path)
    rows = [f"row {i}\n" for i in range(40)]
    for name, count in (("big40.txt", 40), ("mid20.txt", 20)):  # past the old 30-line limit
        base = "# start\n" + "".join(rows[:count]) + "# end\n"
        ours, theirs = base.replace("row", "ours row"), base.replace("row", "theirs row")
        merge_case(repo, name, base, ours, theirs, theirs, DATE)
    wide = "x" * 2500  # 3 long lines: past 6000 characters, far below 8000 tokens
    merge_case(repo, "wide.txt", f"a\n{wide}\nz\n", f"a\n{wide}1\nz\n", f"a\n{wide}2\nz\n",
               f"a\n{wide}3\nz\n", DATE)  # fmt: skip
    commit_file(repo, "old.py", RENAME_BASE, "base", DATE)  # renamed by ours, edited by theirs
    git(repo, "checkout", "-q", "-b", "side")
    commit_file(repo, "old.py", RENAME_BASE.replace("line 6", "theirs 6"), "edit", DATE)
    git(repo, "checkout", "-q", "main")
    git(repo, "mv", "old.py", "new.py")
    commit_file(repo, "new.py", RENAME_BASE.replace("line 6", "ours 6"), "rename", DATE)
    git(repo, "merge", "-q", "side", ok=(1,), date=DATE)
    resolve(repo, {"new.py": RENAME_BASE.replace("line 6", "both 6")})
    commit_file(repo, ".gitattributes", "CHANGES merge=union\n", "attributes", DATE)
    seen = conflicted_merge(
        repo,
        {"app.py": ("x = 1\n", "x = 2\n", "x = 3\n"), "CHANGES": ("v1\n", "v1\na\n", "v1\nb\n")},
    )
    resolve(repo, {"app.py": "x = 4\n", "CHANGES": seen["CHANGES"]})
    conflicted_merge(repo, {"doc.rst": (RST_BASE, RST_OURS, RST_THEIRS)})
    resolve(repo, {"doc.rst": RST_RESOLVED})
    conflicted_merge(repo, {"f.c": (HIST_BASE, HIST_OURS, HIST_THEIRS)})
    resolve(repo, {"f.c": HIST_RESOLVED})
    base = ODD_CONTEXT + "value\u2028= 1\x0c\n" + ODD_CONTEXT
    conflicted_merge(
        repo, {"notes.txt": (base, base.replace("= 1", "= 2"), base.replace("= 1", "= 3"))}
    )
    resolve(repo, {"notes.txt": base.replace("= 1", "= 4")})
    for i in range(3):
        merge_case(
            repo, f"plain{i}.py", "v = 0\n", f"v = {i}1\n", f"v = {i}2\n", f"v = {i}3\n", DATE
        )
    return repo


def test_mixed_history_defaults_keep_every_learnable_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = build_mixed_history(tmp_path / "mixed")
    out = tmp_path / "tasks.jsonl"
    assert main(["import", "merges", "--repo", str(repo), "-o", str(out)]) == 0
    table = capsys.readouterr().out
    paths = sorted(t.meta["path"] for t in read_tasks([out]))
    assert paths == sorted(["big40.txt", "mid20.txt", "wide.txt", "new.py", "app.py", "doc.rst",
                            "f.c", "notes.txt", "plain0.py", "plain1.py", "plain2.py"])  # fmt: skip
    assert "dropped:" not in table and "CHANGES" not in paths
    # the old limits, asked for, drop by named reason
    argv = ["--max-hunk-lines", "30", "--max-prompt-tokens", "1500", "--quiet"]
    tasks, ctx = mine(repo, limits=Limits(max_hunk_lines=30, max_prompt_tokens=1500))
    assert dict(ctx.stats.skipped) == {
        "hunk over --max-hunk-lines": 2,
        "prompt over --max-prompt-tokens": 1,
    }
    assert main(["import", "merges", "--repo", str(repo), "-o", str(out), *argv]) == 0
    assert len(read_tasks([out])) == len(tasks) == 8


def test_sources_entries_take_the_size_limits_and_report_drops_by_reason(tmp_path: Path) -> None:
    from distill.config import SourceConfig
    from distill.sources import run_import

    repo = build_mixed_history(tmp_path / "mixed")
    out = tmp_path / "tasks.jsonl"
    source = SourceConfig(format="merges", output=str(out), repo=str(repo),
                          max_hunk_lines=30, max_prompt_tokens=1500)  # fmt: skip
    summary = run_import(source).summary()
    assert summary["added"] == 8
    assert summary["dropped: hunk over --max-hunk-lines"] == 2
    assert summary["dropped: prompt over --max-prompt-tokens"] == 1

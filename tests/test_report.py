"""`distill status` and `distill report` on a real output directory: a `distill run` against the
teacher simulator (two priced teachers, some requests failing) plus a synthetic nightly history."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import struct
from collections import Counter
from pathlib import Path

import pytest
from factories import read_jsonl, run_cli
from report_helpers import FATAL_ERROR, KINDS, TEACHERS, Built, build_output
from rich.console import Console

from distill.cli.console import status_tables
from distill.report.data import load
from distill.report.html import render
from distill.report.summary import overview

WIDE = {"COLUMNS": "200"}  # rich wraps at 80 columns when stdout is not a terminal
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_output(tmp_path_factory.mktemp("report"))


def _row(text: str, label: str) -> str:
    """The cells of the table row that starts with `label`, joined by single spaces."""
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == label:
            return " ".join(cells)
    raise AssertionError(f"no row {label!r} in:\n{text}")


def _du(path: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def test_status_from_config_counts_what_is_on_disk(built: Built) -> None:
    result = run_cli("status", "-c", str(built.config), env=WIDE)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    graded = read_jsonl(built.out / "graded.jsonl")
    errors = [r for r in graded if r["status"] == "error"]
    assert errors and len(errors) < len(graded)  # the fixture has both

    tasks = sum(len(read_jsonl(Path(p))) for p in json.loads(
        (built.out / "config.resolved.json").read_text())["tasks"])  # fmt: skip
    assert _row(text, "tasks") == f"tasks {tasks} ({tasks} with samples)"
    ok = len(graded) - len(errors)
    assert _row(text, "samples") == f"samples {len(graded)} ({ok} ok, {len(errors)} error)"
    verdicts = Counter(r["verdict"]["status"] for r in graded)
    for status, n in verdicts.items():
        assert _row(text, status).startswith(f"{status} {n} ")
    for teacher in TEACHERS:
        mine = [r for r in graded if r["teacher"] == teacher and r["verdict"]["status"] in
                ("pass", "fail", "suspect")]  # fmt: skip
        passed = sum(r["verdict"]["status"] == "pass" for r in mine)
        rate = f"{100 * passed / len(mine):.1f} %"
        assert re.search(rf"\b{teacher} +│ +{len(mine)} │ +{passed} │ +{re.escape(rate)}", text)
    for kind in KINDS:  # kinds come from the config's task files
        assert re.search(rf"│ {kind} +│ +\d+ │", text), kind
    spend = sum(r["cost_usd"] for r in graded)
    assert spend > 0
    assert _row(text, "spend").startswith(f"spend ${spend:,.4f}")
    for kind, n in Counter(r["error"]["kind"] for r in errors).items():
        assert _row(text, "harvest").startswith("harvest") and re.search(
            rf"│ harvest +│ {kind} +│ +{n} │", text
        )
    cache = _du(built.cache)
    assert cache > 0 and f"({cache:,} bytes) in {built.cache}" in text
    last = built.history[-1]
    assert _row(text, "last run") == f"last run {last['run_id']}"
    assert _row(text, "outcome") == "outcome partial (exit 1)"
    assert _row(text, "started") == f"started {last['started_at']}"
    assert _row(text, "runs") == "runs 3 ok, 2 partial, 1 teacher_fatal"


def test_status_from_output_dir_alone(built: Built, tmp_path: Path) -> None:
    # No config file where it runs: kinds and the cache come from config.resolved.json.
    result = run_cli("status", "--output-dir", str(built.out), env=WIDE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for kind in KINDS:
        assert re.search(rf"│ {kind} +│ +\d+ │", result.stdout), kind
    assert f"bytes) in {built.cache}" in result.stdout

    # Without config.resolved.json, kinds are unknown and there is no cache row.
    bare = tmp_path / "bare"
    shutil.copytree(built.out, bare)
    (bare / "config.resolved.json").unlink()
    data = load(bare)
    assert set(data.samples["kind"]) == {"unknown"}
    assert data.cache_dir is None and data.task_count is None
    assert len(data.history) == len(built.history)


def test_report_html_is_self_contained_with_every_plot(built: Built, tmp_path: Path) -> None:
    result = run_cli("report", "-c", str(built.config))
    assert result.returncode == 0, result.stderr
    path = built.out / "report.html"
    assert result.stdout.strip() == str(path)
    page = path.read_text()

    assert "<title>distill report: t</title>" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<script|<link|@import|url\(|(src|href)=\"(https?:)?//", page)
    figures = re.findall(r'<figure id="plot-([\w-]+)">(.*?)</figure>', page, re.S)
    assert [f[0] for f in figures] == [
        "rate-kind", "rate-teacher", "spend", "latency", "tokens", "reasoning", "errors"
    ]  # fmt: skip
    for name, body in figures:
        encoded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', body)
        assert encoded, name
        png = base64.b64decode(encoded.group(1))
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
        assert png[:8] == PNG_SIGNATURE and width >= 400 and height >= 200, name

    for run in built.history:  # every night in the runs table
        assert run["run_id"] in page
    assert FATAL_ERROR.replace("'", "&#x27;") in page
    last = built.history[-1]["run_id"]
    assert f'<a href="runs/{last}/run.log">run.log</a>' in page
    assert (built.out / "runs" / last / "run.log").exists()
    graded = read_jsonl(built.out / "graded.jsonl")
    assert f"<th>samples</th><td>{len(graded)} (" in page

    # A report written elsewhere (-o) links the log relative to where it is.
    elsewhere = tmp_path / "reports" / "night.html"
    href = os.path.relpath(built.out / "runs" / last / "run.log", elsewhere.parent)
    assert href.startswith("..")
    assert f'<a href="{href}">run.log</a>' in render(load(built.out), [], elsewhere)


def test_report_without_history_says_so(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(built.out, out)
    (out / "history.jsonl").unlink()
    (out / "report.html").unlink(missing_ok=True)  # another test's
    target = tmp_path / "night.html"
    result = run_cli("report", "--output-dir", str(out), "-o", str(target), "--quiet", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "", result.stderr  # --quiet: no path
    assert not (out / "report.html").exists()
    page = target.read_text()
    figures = dict(re.findall(r'<figure id="plot-([\w-]+)">(.*?)</figure>', page, re.S))
    for name in ("rate-kind", "rate-teacher", "spend"):
        assert "<img" not in figures[name] and "no nightly history yet" in figures[name]
    for name in ("latency", "tokens", "reasoning", "errors"):
        assert "data:image/png;base64," in figures[name]

    screen = Console(record=True, width=200, file=io.StringIO())
    for table in status_tables(load(out)):
        screen.print(table)
    text = screen.export_text()
    assert "no nightly history yet" in text and "last run" not in text


def test_history_line_being_written_is_skipped(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(built.out, out)
    with (out / "history.jsonl").open("a") as f:
        f.write('{"schema_version": 1, "run_id": "20991231T000000Z-torn", "star')  # torn
    data = load(out)
    assert [r["run_id"] for r in data.history] == [r["run_id"] for r in built.history]


def test_grades_older_than_samples_are_flagged(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(built.out, out)
    assert not load(out).stale_grades
    graded = (out / "graded.jsonl").stat().st_mtime
    os.utime(out / "samples.jsonl", (graded + 60, graded + 60))  # harvested again, not graded
    data = load(out)
    assert data.stale_grades and data.samples_file == out / "graded.jsonl"
    assert ("read", "graded.jsonl (older than samples.jsonl: run `distill grade`)") in overview(
        data
    )


@pytest.mark.parametrize(
    ("verb", "where", "says"),
    [
        ("status", "missing", "no such output directory"),
        ("report", "empty", "no graded.jsonl, samples.jsonl or history.jsonl"),
        ("report", "", "give -c CONFIG or --output-dir DIR"),  # neither a config nor a directory
    ],
)
def test_missing_or_empty_output_dir_is_one_line(
    verb: str, where: str, says: str, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    args = ["--output-dir", str(tmp_path / where)] if where else []
    result = run_cli(verb, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("distill: error: ") and says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "empty" / "report.html").exists()

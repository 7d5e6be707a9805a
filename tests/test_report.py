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
from typing import Any

import pytest
from factories import read_jsonl, run_cli
from report_helpers import FATAL_ERROR, KINDS, TEACHERS, Built, build_output
from rich.console import Console

from distill.cli.console import status_tables
from distill.report.data import load
from distill.report.html import render
from distill.report.summary import overview, spend

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


def _kinds(built: Built) -> dict[str, str]:
    files = json.loads((built.out / "config.resolved.json").read_text())["tasks"]
    return {t["id"]: t["kind"] for p in files for t in read_jsonl(Path(p))}


def _spend_line(name: str, rows: list[dict[str, Any]]) -> str:
    """The "$ per accepted sample" cells after `name`, worked out here from graded rows."""
    tasks = len({r["task_id"] for r in rows})
    accepted = sum(r["verdict"]["status"] == "pass" for r in rows)
    cost = sum(r["cost_usd"] for r in rows)
    per = f"${cost / accepted:,.6f}" if accepted else "-"
    return (rf"│ {name} +│ +{tasks} │ +{len(rows)} │ +{accepted} │ +{len(rows) / tasks:.2f} │ "
            rf"+{accepted / tasks:.2f} │ +{re.escape(f'${cost:,.6f}')} │ +{re.escape(per)} │")  # fmt: skip


def _with_adaptive_night(built: Built, out: Path, **extra: Any) -> str:
    """A newer run in history.jsonl whose harvest had an adaptive teacher; its run id."""
    shutil.copytree(built.out, out)
    run_id = "20991231T000000Z-adaptive"
    night = {
        "schema_version": 1, "run_id": run_id, "started_at": "2099-12-31T00:00:00Z",
        "finished_at": "2099-12-31T00:01:00Z", "exit_code": 0, "outcome": "ok",
        "stages": {"harvest": {"seconds": 1.0, "planned": 40, "adaptive": {"r1": {
            "tasks": 10, "samples": 25, "accepted": 8, "saturated": 7, "gave_up": 2,
            "exhausted": 1, "ungradeable": 0, "stalled": 0}}}},
        **extra,
    }  # fmt: skip
    with (out / "history.jsonl").open("a") as f:
        f.write(json.dumps(night) + "\n")
    return run_id


def test_status_shows_cost_per_accepted_sample_and_adaptive_tasks(
    built: Built, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_id = _with_adaptive_night(built, out)
    result = run_cli("status", "--output-dir", str(out), env={"COLUMNS": "250"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    graded = read_jsonl(out / "graded.jsonl")
    kinds = _kinds(built)
    assert "$ per accepted sample" in text
    for teacher in TEACHERS:
        mine = [r for r in graded if r["teacher"] == teacher]
        assert any(r["verdict"]["status"] == "pass" for r in mine)
        assert re.search(_spend_line(teacher, mine), text), teacher
    for kind in KINDS:
        assert re.search(_spend_line(kind, [r for r in graded if kinds[r["task_id"]] == kind]),
                         text), kind  # fmt: skip
    assert re.search(_spend_line("all", graded), text)

    assert f"adaptive sampling (run {run_id})" in text
    assert re.search(r"│ r1 +│ +10 │ +2\.50 │ +0\.80 │ +7 │ +2 │ +1 │ +0 │ +0 │ +0 │", text)


def test_report_has_the_spend_and_adaptive_tables(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_id = _with_adaptive_night(built, out)
    page = render(load(out), [], out / "report.html")
    graded = read_jsonl(out / "graded.jsonl")
    mini = [r for r in graded if r["teacher"] == "mini"]
    accepted = sum(r["verdict"]["status"] == "pass" for r in mini)
    cost = sum(r["cost_usd"] for r in mini)
    assert "<caption>$ per accepted sample</caption>" in page
    assert (f'<td>teacher</td><td>mini</td><td class="num">{len({r["task_id"] for r in mini})}'
            f'</td><td class="num">{len(mini)}</td><td class="num">{accepted}</td>') in page  # fmt: skip
    assert f'<td class="num">${cost / accepted:,.6f}</td></tr>' in page
    assert f"<caption>Adaptive sampling (run {run_id})</caption>" in page
    assert ('<td>r1</td><td class="num">10</td><td>2.50</td><td>0.80</td><td class="num">7</td>'
            '<td class="num">2</td>') in page  # fmt: skip

    # Without that night there is no adaptive table.
    assert "Adaptive sampling" not in render(load(built.out), [], built.out / "report.html")


def test_without_graded_file_the_spend_comes_from_the_run_summary(
    built: Built, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    row = {"samples": 4, "judged": 4, "accepted": 2, "cost_usd": 0.5, "tasks": 2,
           "tasks_accepted": 1, "samples_per_task": 2.0, "accepted_per_task": 1.0,
           "usd_per_accepted": 0.25}  # fmt: skip
    _with_adaptive_night(built, out, spend={"all": row, "teacher": {"r9": row}, "kind": {}})
    (out / "graded.jsonl").unlink()  # samples.jsonl is read: no verdicts in it
    data = load(out)
    assert data.samples_file == out / "samples.jsonl"
    assert ("teacher", "r9", 2, 4, 2, "2.00", "1.00", "$0.500000", "$0.250000") in spend(data)

"""Terminal output: progress and summary tables (rich). The only module that draws on screens.

The results it draws are typed only for the checker: drawing a table loads no stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from distill.spend import ADAPTIVE_COLUMNS, OUTCOMES, per_task

if TYPE_CHECKING:
    from distill.export import ExportResult
    from distill.grade import GradeResult
    from distill.harvest import HarvestResult, HarvestStats
    from distill.harvest.dryrun import DryRun
    from distill.harvest.runner import ProgressFn
    from distill.prompts import Template
    from distill.report.data import ReportData
    from distill.sources import ImportResult

out = Console()
err = Console(stderr=True)


@contextmanager
def harvest_progress(enabled: bool) -> Iterator[ProgressFn | None]:
    """A live bar: done/total, requests/s, tokens/s, spend, cache hits, retries, errors by kind.
    Redrawn at most 5 times a second; nothing at all when stderr is not a terminal."""
    if not enabled or not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("harvest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("harvest", total=None, line="")
        last = 0.0

        def update(stats: HarvestStats) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < 0.2 and stats.done < stats.to_send:
                return
            last = now
            elapsed = max(now - stats.started_at, 1e-9)
            errors = " ".join(f"{k}:{n}" for k, n in sorted(stats.errors_by_kind.items()))
            line = (
                f"{stats.done / elapsed:.0f} req/s  {stats.completion_tokens / elapsed:,.0f} tok/s"
                f"  ${stats.cost_usd:.4f}  cached {stats.cached:,}  retries {stats.retries}"
                f"  429s {stats.rate_limited}  errors {errors or 0}"
            )
            bar.update(task, total=stats.to_send, completed=stats.done, line=line)

        yield update


def print_dry_run(plan: DryRun) -> None:
    """One row a teacher. An adaptive teacher's "to send" and dollars are ranges (the fewest
    answers a task can get .. the most), its expected figures need an earlier pass rate. Every
    dollar figure prices max_tokens per answer: an upper bound."""
    table = Table(title="harvest --dry-run (nothing sent)")
    columns = ("teacher", "model", "mode", "planned", "cached", "to send", "expected",
               "prompt tok", "max out tok", "$ prompt", "$ min–max", "$ expected")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:3] else "right")
    for t in plan.teachers:
        ranged = t.adaptive and t.min_to_send != t.to_send
        to_send = f"{t.min_to_send:,}–{t.to_send:,}" if ranged else f"{t.to_send:,}"
        at_most = (
            f"{t.min_cost_usd:.4f}–{t.max_cost_usd:.4f}" if ranged else f"{t.max_cost_usd:.4f}"
        )
        expected = "-" if t.expected_to_send is None else f"{t.expected_to_send:,.1f}"
        if not t.adaptive:
            expected = f"{t.to_send:,}"
        if t.adaptive and t.pass_rate is not None:
            expected += f" (pass {100 * t.pass_rate:.0f} %)"
        usd = "-" if t.expected_cost_usd is None else f"{t.expected_cost_usd:.4f}"
        mode = ("batch" if t.batch else "sync") + (", adaptive" if t.adaptive else "")
        table.add_row(
            t.teacher, t.model, mode, f"{t.planned:,}", f"{t.cached:,}", to_send, expected,
            f"{t.prompt_tokens:,}", f"{t.max_completion_tokens:,}", f"{t.prompt_cost_usd:.4f}",
            at_most, usd,
        )  # fmt: skip
    out.print(table)
    for t in plan.teachers:
        if t.in_batches:
            out.print(f"{t.teacher}: {t.in_batches:,} requests are in batches not yet collected "
                      "(paid; the next harvest collects them, not counted above)")  # fmt: skip
        if t.settled:
            out.print(f"{t.teacher}: {t.settled:,} of {t.tasks:,} tasks are done by their cached, "
                      "graded answers")  # fmt: skip
    if any(t.adaptive and t.expected_to_send is None for t in plan.teachers):
        out.print("expected: no earlier pass rate for an adaptive teacher (no judged answers of "
                  "it in graded.jsonl yet)")  # fmt: skip
    if plan.example is not None:
        out.print("first request to send:")
        out.print_json(data=plan.example)


def harvest_table(result: HarvestResult) -> RenderableType:
    """The harvest's figures, with a line per adaptive teacher: how its tasks ended."""
    s = result.stats
    table = Table(title="harvest", show_header=False)
    for label, value in (
        ("requests planned", f"{s.planned:,}"),
        ("from cache", f"{s.cached:,}"),
        (
            "sent",
            f"{s.to_send:,} ({s.attempts:,} attempts, {s.retries:,} retries, "
            f"{s.rate_limited:,} rate-limited)",
        ),
        ("ok / errors", f"{s.ok:,} / {s.errors:,}"),
        ("tokens in / out", f"{s.prompt_tokens:,} / {s.completion_tokens:,}"),
        ("spend this run", f"${s.cost_usd:.4f}"),
        ("samples written", f"{result.written:,} → {result.samples_path}"),
    ):
        table.add_row(label, value)
    hit, write, saving = s.cache_hit_tokens, s.cache_write_tokens, s.cache_saving_usd
    if hit or write:
        table.add_row(
            "prompt cache", f"{hit:,} tokens read, {write:,} written: ${saving:.4f} saved"
        )
    batch = (s.batch_submitted, s.batch_collected, s.batch_open)
    if any(batch):
        table.add_row("batches", "{:,} submitted, {:,} collected, {:,} still open".format(*batch))
    for row in per_task(s.adaptive):  # a line a teacher: the table stays two columns wide
        ended = ", ".join(f"{row[o]:,} {o.replace('_', ' ')}" for o in OUTCOMES if row[o])
        table.add_row(
            f"adaptive: {row['teacher']}",
            f"{row['tasks']:,} tasks, {row['samples_per_task']:.2f} sent and "
            f"{row['accepted_per_task']:.2f} accepted per task; {ended or 'none ended'}",
        )
    for kind, n in sorted(s.errors_by_kind.items()):
        table.add_row(f"error: {kind}", f"{n:,}")
    for teacher, message in result.fatal.items():
        table.add_row(f"stopped: {teacher}", message)
    return table


def adaptive_table(title: str, adaptive: dict[str, dict[str, int]]) -> Table:
    """Per adaptive teacher: tasks, answers sent and accepted per task, tasks by how they ended."""
    table = Table(title=title)
    for i, column in enumerate(ADAPTIVE_COLUMNS):
        table.add_column(column, justify="right" if i else "left")
    for r in per_task(adaptive):
        per = (f"{r['samples_per_task']:.2f}", f"{r['accepted_per_task']:.2f}")
        table.add_row(r["teacher"], f"{r['tasks']:,}", *per, *(f"{r[o]:,}" for o in OUTCOMES))
    return table


def grade_table(result: GradeResult) -> Table:
    table = Table(title=f"grade ({result.total:,} samples, {result.cached:,} verdicts from cache)")
    for column in ("grader", "status", "reason", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for (grader, status, reason), n in sorted(result.counts.items()):
        table.add_row(grader, status, reason, f"{n:,}")
    return table


def export_table(result: ExportResult) -> Table:
    table = Table(title="export", show_header=False)
    table.add_row("train rows", f"{result.train_rows:,} → {result.train_path}")
    table.add_row("val rows", f"{result.val_rows:,} → {result.val_path}")
    for reason, n in sorted(result.dropped.items()):
        table.add_row(f"dropped: {reason}", f"{n:,}")
    table.add_row("manifest", str(result.manifest_path))
    return table


def import_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"import ({report['added']:,} new tasks)")
    for column in ("source", "found", "added", "already present", "dropped"):
        table.add_column(column, justify="left" if column in ("source", "dropped") else "right")
    for name, r in report["sources"].items():
        drops = ", ".join(
            f"{k.removeprefix('dropped: ')} {v:,}"
            for k, v in r.items()
            if k.startswith("dropped: ")
        )
        table.add_row(name, f"{r['found']:,}", f"{r['added']:,}", f"{r['already_present']:,}",
                      drops or "-")  # fmt: skip
    return table


def import_summary(fmt: str, output: Path, append: bool, result: ImportResult) -> Table:
    """`distill import`: rows read, bad and dropped rows, duplicates, what the output holds."""
    stats = result.context.stats
    merges = fmt == "merges"
    table = Table(title=f"import {fmt} → {output}", show_header=False)
    rows: list[tuple[str, int]] = []
    if merges:
        rows += [(k, v) for k, v in stats.extra.items() if not k.startswith("kept")]
    else:
        rows.append(("rows read", stats.rows))
    rows += [(f"bad row: {reason}", n) for reason, n in sorted(stats.bad.items())]
    rows += [(f"dropped: {reason}", n) for reason, n in sorted(stats.skipped.items())]
    rows += [("duplicates dropped", stats.duplicates)]
    if stats.sampled_out:
        rows.append(("left out by --max-samples", stats.sampled_out))
    if not merges:
        rows += list(stats.extra.items())
    rows.append(("imported", stats.imported))
    if merges:
        rows += [(k, v) for k, v in stats.extra.items() if k.startswith("kept")]
    if append:
        rows += [("already in the output", stats.already_present), ("added", result.added)]
    rows.append((f"tasks in {output}", result.written))
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    return table


def prompts_table(templates: Iterable[Template]) -> Table:
    table = Table(title="prompt library")
    for column in ("role", "id", "kind", "description"):
        table.add_column(column)
    for template in templates:
        table.add_row(template.role, template.id, template.kind, template.description)
    return table


def train_table(result: Any) -> Table:
    """A distill.train.runner.TrainResult (typed loosely: that module needs the train extra)."""
    title = "train (splits and settings unchanged: student kept)" if result.unchanged else "train"
    table = Table(title=title, show_header=False)
    table.add_row("rows train / val", f"{result.train_rows:,} / {result.val_rows:,}")
    for reason, n in sorted(result.dropped.items()):
        table.add_row(f"dropped: {reason}", f"{n:,}")
    table.add_row("steps", f"{result.global_step:,}")
    table.add_row("train loss", _num(result.train_loss))
    table.add_row("validation loss", _num(result.eval_loss))
    table.add_row("tokens/s", f"{result.tokens_per_s:,.0f}")
    table.add_row("adapter", str(result.adapter_dir))
    if result.merged_dir:
        table.add_row("merged model", str(result.merged_dir))
    if result.gen_test:
        stopped = sum(g["finish_reason"] == "stop" for g in result.gen_test)
        table.add_row("gen test", f"{stopped}/{len(result.gen_test)} stopped → gen_test.jsonl")
    table.add_row("manifest", str(result.manifest_path))
    return table


def eval_table(result: Any) -> Table:
    """A distill.train.evaluate.EvalResult: pass rates per kind, teacher beside student."""
    table = Table(title=f"student vs teacher on held-out tasks ({result.student})")
    unjudged = any(row.student_not_judged for row in result.rows)
    columns = ["kind", "tasks", "teacher pass", "student pass", "Δ"]
    for column in columns + ["student not judged"] * unjudged:
        table.add_column(column, justify="left" if column == "kind" else "right")
    for row in result.rows:
        teacher = row.rate(row.teacher_pass, row.teacher_total)
        student = row.rate(row.student_pass, row.student_total)
        delta = "—"
        if teacher is not None and student is not None:
            delta = f"{(student - teacher) * 100:+.1f} pt"
        cells = [row.kind, str(row.tasks), _rate(row.teacher_pass, row.teacher_total),
                 _rate(row.student_pass, row.student_total), delta]  # fmt: skip
        table.add_row(*cells, *[f"{row.student_not_judged:,}"] * unjudged)
    return table


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} ({passed / total:.0%})" if total else "—"


STAGE_TABLES: dict[str, Callable[[Any], RenderableType]] = {
    "import": import_table,
    "harvest": harvest_table,
    "grade": grade_table,
    "export": export_table,
    "train": train_table,
    "eval": eval_table,
}


def run_summary(summary: dict[str, Any]) -> Table:
    """The one-screen account of a run, for cron mail when it did not end well."""
    table = Table(title=f"distill run {summary['run_id']}: {summary.get('outcome', '?')}",
                  show_header=False)  # fmt: skip
    table.add_row("config", str(summary.get("config", "")))
    table.add_row("exit code", str(summary.get("exit_code", "")))
    if summary.get("error"):
        table.add_row("error", str(summary["error"]))
    for name, info in summary.get("stages", {}).items():
        brief = ", ".join(
            f"{k} {v}" for k, v in info.items() if k != "seconds" and not isinstance(v, dict | list)
        )
        table.add_row(name, f"{info['seconds']:.1f} s: {brief}")
        for k, v in info.items():
            if k == "adaptive" and isinstance(v, dict):
                for r in per_task(v):
                    ended = ", ".join(f"{o.replace('_', ' ')} {r[o]}" for o in OUTCOMES if r[o])
                    per = f"{r['samples_per_task']:.2f} sent, {r['accepted_per_task']:.2f} accepted"
                    line = f"adaptive {r['teacher']}: {r['tasks']} tasks, {per} a task; {ended}"
                    table.add_row("", line)
            elif isinstance(v, dict) and v:
                table.add_row("", f"{k}: " + ", ".join(f"{a} {b}" for a, b in sorted(v.items())))
    spend = summary.get("spend") or {}
    if spend.get("teacher"):
        costs = [(t, r.get("usd_per_accepted")) for t, r in sorted(spend["teacher"].items())]
        table.add_row("$ / accepted", ", ".join(
            f"{t} " + ("-" if usd is None else f"${usd:,.6f}") for t, usd in costs))  # fmt: skip
    table.add_row("log", f"runs/{summary['run_id']}/run.log in the output directory")
    return table


def status_tables(data: ReportData) -> list[Table]:
    """`distill status`: the figures of an output directory as tables."""
    from distill.report import summary

    title = f"distill status: {data.name}" if data.name else "distill status"
    tables = [_pairs(title, summary.overview(data))]
    run = summary.last_run(data)
    tables.append(_pairs("last nightly run", run) if run else _note("no nightly history yet"))
    verdicts = summary.verdicts(data)
    if verdicts:
        table = _columns("verdicts", ("status", "count", "share"))
        for status, n, share in verdicts:
            table.add_row(status, f"{n:,}", share)
        tables.append(table)
    rates = summary.rates(data)
    if rates:
        table = _columns("pass rate (pass / (pass + fail + suspect))",
                         ("by", "name", "judged", "pass", "rate"))  # fmt: skip
        previous = ""
        for axis, name, judged, passed, rate in rates:
            if previous and axis != previous:
                table.add_section()
            table.add_row(axis if axis != previous else "", name, f"{judged:,}", f"{passed:,}",
                          rate)  # fmt: skip
            previous = axis
        tables.append(table)
    if data.adaptive:
        tables.append(adaptive_table(f"adaptive sampling (run {data.adaptive_run})",
                                     data.adaptive))  # fmt: skip
    if data.open_batches:
        table = _columns("batches not yet collected (the next harvest or --wait collects them)",
                         ("teacher", "batches", "requests", "oldest submitted"))  # fmt: skip
        for teacher, (batches, requests, oldest) in sorted(data.open_batches.items()):
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(oldest))
            table.add_row(teacher, f"{batches:,}", f"{requests:,}", when)
        tables.append(table)
    spend = summary.spend(data)
    if spend:
        table = _columns("$ per accepted sample", summary.SPEND_COLUMNS)
        previous = ""
        for by, *cells in spend:
            if previous and by != previous:
                table.add_section()
            table.add_row(by if by != previous else "", *(str(c) for c in cells))
            previous = by
        tables.append(table)
    errors = summary.errors(data)
    table = _columns("errors", ("stage", "kind", "count"))
    for stage, kind, n in errors:
        table.add_row(stage, kind, f"{n:,}")
    if not errors:
        table.add_row("-", "none", "0")
    tables.append(table)
    return tables


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    return table


def _columns(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        numeric = column not in ("by", "name", "status", "stage", "kind")
        table.add_column(column, justify="right" if numeric and i else "left")
    return table


def _note(text: str) -> Table:
    table = Table(show_header=False, show_edge=False)
    table.add_row(text)
    return table

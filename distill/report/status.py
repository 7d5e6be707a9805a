"""`distill status`: the summary figures as rich tables, in the style of distill.console."""

from __future__ import annotations

from rich.table import Table

from distill.report import summary
from distill.report.data import ReportData


def status_tables(data: ReportData) -> list[Table]:
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
    errors = summary.errors(data)
    table = _columns("errors", ("stage", "kind", "count"))
    for stage, kind, n in errors:
        table.add_row(stage, kind, f"{n:,}")
    if not errors:
        table.add_row("-", "none", "0")
    tables.append(table)
    return tables


def _pairs(title: str, rows: list[summary.Row]) -> Table:
    table = Table(title=title, show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    return table


def _columns(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        numeric = column in ("count", "share", "judged", "pass", "rate")
        table.add_column(column, justify="right" if numeric and i else "left")
    return table


def _note(text: str) -> Table:
    table = Table(show_header=False, show_edge=False)
    table.add_row(text)
    return table

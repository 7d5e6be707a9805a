"""`distill report`: one self-contained HTML page. Figures are inlined as data: PNGs, the style
sheet is inline, there is no script, and a Content-Security-Policy forbids fetching anything, so
the page looks the same opened from a mail attachment on a machine with no network."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from distill import __version__
from distill.report import summary
from distill.report.data import ReportData
from distill.report.plots import NO_HISTORY, Plot
from distill.spend import ADAPTIVE_COLUMNS

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MAX_RUNS = 60  # rows in the table of nightly runs, newest first

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1000px; padding: 0 1rem; color: #222; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.meta, .note { color: #666; }
.note { font-style: italic; padding: 1rem; background: #f6f6f6; border-radius: 4px; }
.tables { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdf0f0; }
figure { margin: 0 0 1.5rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { font-size: 0.85em; }
"""


def render(data: ReportData, plots: Sequence[Plot], report_path: Path) -> str:
    """The whole page; `report_path` is where it will live (log links are relative to it)."""
    name = data.name or data.out.name
    title = f"distill report: {name}"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(str(data.out))} · generated '
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} by distill {__version__}</p>",
        '<h2 id="summary">Summary</h2>',
        '<div class="tables">',
        _pairs("Output", summary.overview(data)),
        _pairs("Last nightly run", summary.last_run(data)) if data.history else _note(NO_HISTORY),
        _table("Verdicts", ("status", "count", "share"), summary.verdicts(data)),
        _table("Pass rate", ("by", "name", "judged", "pass", "rate"), summary.rates(data)),
        _table("$ per accepted sample", summary.SPEND_COLUMNS, summary.spend(data)),
        _adaptive(data),
        _table("Errors", ("stage", "kind", "count"), summary.errors(data), empty="no errors"),
        "</div>",
        '<h2 id="plots">Plots</h2>',
        *(_figure(p) for p in plots),
        '<h2 id="runs">Nightly runs</h2>',
        _runs(data, report_path),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _adaptive(data: ReportData) -> str:
    if not data.adaptive:
        return ""
    caption = f"Adaptive sampling (run {data.adaptive_run})"
    return _table(caption, ADAPTIVE_COLUMNS, summary.adaptive(data))


def _figure(plot: Plot) -> str:
    head = f'<figure id="plot-{escape(plot.id)}">\n<h3>{escape(plot.title)}</h3>\n'
    if plot.png is None:
        return head + _note(plot.note) + "\n</figure>"
    encoded = base64.b64encode(plot.png).decode("ascii")
    return (
        head + f'<img alt="{escape(plot.title)}" src="data:image/png;base64,{encoded}">\n</figure>'
    )


def _runs(data: ReportData, report_path: Path) -> str:
    if not data.history:
        return _note(NO_HISTORY)
    rows = []
    newest = data.runs.iloc[::-1].head(MAX_RUNS)
    for run in newest.itertuples(index=False):
        log = data.out / "runs" / str(run.run_id) / "run.log"
        link = "-"
        if log.exists():
            href = os.path.relpath(log, report_path.resolve().parent)
            link = f'<a href="{escape(Path(href).as_posix())}">run.log</a>'
        spend = "-" if _missing(run.spend_usd) else f"${run.spend_usd:,.4f}"
        started = "?" if _missing(run.started_at) else run.started_at.strftime("%Y-%m-%d %H:%M")
        bad = ' class="bad"' if run.outcome != "ok" else ""
        rows.append(
            f"<tr{bad}><td>{escape(started)}</td><td><code>{escape(str(run.run_id))}</code></td>"
            f"<td>{escape(str(run.outcome))}</td><td class=num>{_exit(run.exit_code)}</td>"
            f"<td class=num>{escape(summary.duration(run.seconds))}</td>"
            f"<td class=num>{escape(spend)}</td><td>{escape(run.error)}</td>"
            f"<td>{link}</td></tr>"
        )
    more = len(data.runs) - MAX_RUNS
    caption = f"newest first ({more:,} older not shown)" if more > 0 else "newest first"
    head = "".join(f"<th>{h}</th>" for h in
                   ("started (UTC)", "run id", "outcome", "exit", "duration", "spend", "error",
                    "log"))  # fmt: skip
    return (f"<table><caption>{caption}</caption><tr>{head}</tr>\n" + "\n".join(rows)
            + "\n</table>")  # fmt: skip


def _missing(value: object) -> bool:
    """None, or pandas' NaN/NaT for a gap in a column (the one value not equal to itself)."""
    return value is None or value != value


def _exit(code: object) -> str:
    if _missing(code):
        return "-"
    return escape(str(int(code))) if isinstance(code, int | float) else escape(str(code))


def _pairs(caption: str, rows: Iterable[summary.Row]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table><caption>{escape(caption)}</caption>{body}</table>"


def _table(
    caption: str, columns: Sequence[str], rows: Sequence[Sequence[object]], empty: str = "none yet"
) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = (
        "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
        or f'<tr><td colspan="{len(columns)}">{escape(empty)}</td></tr>'
    )
    return f"<table><caption>{escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    text = str(value)
    numeric = text.endswith(" %") or text.startswith("$")
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'

"""The report's figures, drawn with matplotlib's Agg canvas (no display, no pyplot state) and
returned as PNG bytes. A figure with nothing to draw is a Plot with a note instead of an image."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from distill.records import JUDGED
from distill.report.data import ReportData

NO_HISTORY = "no nightly history yet: each `distill run` appends one line to history.jsonl"
OUTCOME_COLORS = {"ok": "#4878d0", "partial": "#ee854a"}
FAILED_COLOR = "#d65f5f"
VERDICT_ORDER = ("pass", "suspect", "fail")


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    png: bytes | None = None
    note: str = ""  # shown instead of the image when there is nothing to draw


def all_plots(data: ReportData) -> list[Plot]:
    # The student's plot only once a night has evaluated one (`[run] eval = true`).
    student = []
    if (data.rates["axis"] == "held_out").any():
        title = "Held-out tasks: teacher and student, by night"
        student = [rate_over_time(data, "held_out", title)]
    return [
        rate_over_time(data, "kind"),
        rate_over_time(data, "teacher"),
        *student,
        spend_per_night(data),
        latency(data),
        tokens(data),
        reasoning_vs_correctness(data),
        error_breakdown(data),
    ]


def rate_over_time(data: ReportData, axis: str, title: str = "") -> Plot:
    title = title or f"Pass rate per {axis}, by night"
    rates = data.rates[data.rates["axis"] == axis].dropna(subset=["started_at"])
    if rates.empty:
        return Plot(f"rate-{axis}", title, note=NO_HISTORY if not data.history else
                    f"no {axis} pass rates in history.jsonl yet")  # fmt: skip
    fig, ax = _figure()
    for name, group in rates.groupby("name", sort=True):
        group = group.sort_values("started_at")
        ax.plot(_dates(group["started_at"]), group["rate"], marker="o", label=str(name))
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("pass rate")
    _date_axis(ax)
    ax.legend(loc="lower left", fontsize="small", ncols=min(4, rates["name"].nunique()))
    ax.grid(alpha=0.3)
    return Plot(f"rate-{axis}", title, _png(fig))


def spend_per_night(data: ReportData) -> Plot:
    title = "Spend per night"
    runs = data.runs.dropna(subset=["started_at"])
    if runs.empty:
        return Plot("spend", title, note=NO_HISTORY)
    fig, ax = _figure()
    spend = runs["spend_usd"].fillna(0.0)
    colors = [OUTCOME_COLORS.get(o, FAILED_COLOR) for o in runs["outcome"]]
    ax.bar(range(len(runs)), spend, color=colors)
    for x, (outcome, usd) in enumerate(zip(runs["outcome"], spend, strict=True)):
        if outcome != "ok":  # name what went wrong on the night itself, zero spend or not
            ax.annotate(str(outcome), (x, usd), ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(range(len(runs)), _labels(runs["started_at"]), rotation=30, ha="right",
                  fontsize="small")  # fmt: skip
    ax.set_ylabel("USD")
    for outcome in dict.fromkeys(runs["outcome"]):
        ax.bar([0], [0], color=OUTCOME_COLORS.get(outcome, FAILED_COLOR), label=str(outcome))
    ax.legend(title="outcome", fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return Plot("spend", title, _png(fig))


def latency(data: ReportData) -> Plot:
    title = "Latency per request (samples on file)"
    ok = data.samples[(data.samples["status"] == "ok") & (data.samples["latency_s"] > 0)]
    if ok.empty:
        return Plot("latency", title, note="no successful samples with a latency")
    fig, ax = _figure()
    values = ok["latency_s"]
    ax.hist(values, bins=30, color="#4878d0")
    median = float(values.median())
    ax.axvline(median, color="black", linestyle="--", label=f"median {median:.2f} s")
    ax.axvline(float(values.quantile(0.95)), color="grey", linestyle=":",
               label=f"p95 {float(values.quantile(0.95)):.2f} s")  # fmt: skip
    ax.set_xlabel("seconds")
    ax.set_ylabel("samples")
    ax.legend(fontsize="small")
    return Plot("latency", title, _png(fig))


def tokens(data: ReportData) -> Plot:
    title = "Tokens per sample: completion and reasoning"
    ok = data.samples[data.samples["status"] == "ok"]
    if ok.empty:
        return Plot("tokens", title, note="no successful samples")
    fig, (left, right) = _figure(2)
    for ax, column, color in ((left, "completion_tokens", "#6acc64"),
                              (right, "reasoning_tokens", "#956cb4")):  # fmt: skip
        values = ok[column]
        ax.set_title(column.replace("_", " "), fontsize="medium")
        ax.set_xlabel("tokens")
        if (values > 0).any():
            ax.hist(values, bins=30, color=color)
            ax.set_ylabel("samples")
        else:
            _empty(ax, "the teacher reported none")
    return Plot("tokens", title, _png(fig))


def reasoning_vs_correctness(data: ReportData) -> Plot:
    title = "Reasoning length against correctness"
    judged = data.samples[data.samples["verdict"].isin(JUDGED)]
    if judged.empty:
        return Plot("reasoning", title, note="no graded samples yet (run `distill grade`)")
    by_tokens = bool((judged["reasoning_tokens"] > 0).mean() > 0.9)
    column, unit = ("reasoning_tokens", "tokens") if by_tokens else ("reasoning_chars", "chars")
    fig, (left, right) = _figure(2)
    present = [v for v in VERDICT_ORDER if (judged["verdict"] == v).any()]
    left.boxplot([judged.loc[judged["verdict"] == v, column] for v in present],
                 tick_labels=present)  # fmt: skip
    left.set_ylabel(f"reasoning length ({unit})")
    left.set_title("length by verdict", fontsize="medium")
    bins = _length_bins(judged[column])
    passed = (judged["verdict"] == "pass").groupby(bins, observed=True).agg(["mean", "size"])
    right.bar(range(len(passed)), passed["mean"], color="#4878d0")
    right.set_xticks(range(len(passed)), [str(i) for i in passed.index], rotation=20,
                     fontsize="x-small")  # fmt: skip
    for x, (rate, n) in enumerate(zip(passed["mean"], passed["size"], strict=True)):
        right.annotate(f"n={n}", (x, rate), ha="center", va="bottom", fontsize="x-small")
    right.set_ylim(0, 1.1)
    right.yaxis.set_major_formatter(PercentFormatter(1.0))
    right.set_xlabel(f"reasoning length ({unit}), quantile bins")
    right.set_title("pass rate by length", fontsize="medium")
    return Plot("reasoning", title, _png(fig))


def error_breakdown(data: ReportData) -> Plot:
    title = "Errors: harvest errors by kind, verdicts by status and reason"
    s = data.samples
    if s.empty:
        return Plot("errors", title, note="no samples yet")
    fig, (left, right) = _figure(2)
    harvest = s.loc[s["status"] == "error", "error_kind"].value_counts().sort_values()
    left.set_title("harvest errors by kind", fontsize="medium")
    if harvest.empty:
        _empty(left, "no harvest errors")
    else:
        left.barh([str(k) for k in harvest.index], harvest.to_numpy(), color=FAILED_COLOR)
        left.set_xlabel("samples")
    graded = s[s["verdict"] != ""]
    right.set_title("verdicts by status: reason", fontsize="medium")
    if graded.empty:
        _empty(right, "no verdicts yet")
    else:
        reasons = (graded["verdict"] + ": " + graded["reason"].replace("", "-")).value_counts()
        top = reasons.head(12).sort_values()
        colors = [_verdict_color(str(k).split(":")[0]) for k in top.index]
        right.barh([str(k) for k in top.index], top.to_numpy(), color=colors)
        right.tick_params(axis="y", labelsize="x-small")
        right.set_xlabel("samples")
    return Plot("errors", title, _png(fig))


def _figure(columns: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=(9, 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, columns)
    return fig, axes


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _dates(values: Any) -> list[Any]:
    return [v.tz_convert(None).to_pydatetime() for v in values]


def _date_axis(ax: Axes) -> None:
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("run started (UTC)")


def _labels(stamps: Any) -> list[str]:
    days = [s.strftime("%Y-%m-%d") for s in stamps]
    if len(set(days)) == len(days):
        return days
    return [s.strftime("%m-%d %H:%M") for s in stamps]


def _length_bins(values: Any) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    n = min(5, int(values.nunique()))
    if n < 2:
        return pd.cut(values, bins=1, precision=0)
    return pd.qcut(values, q=n, duplicates="drop", precision=0)


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _verdict_color(status: str) -> str:
    return {"pass": "#6acc64", "fail": "#ee854a", "suspect": "#d5bb67"}.get(status, FAILED_COLOR)

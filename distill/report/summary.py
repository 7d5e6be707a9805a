"""The figures `status` and `report` both show, as labelled text rows (no drawing here)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from distill.records import JUDGED, VERDICT_STATUSES
from distill.report.data import AXES, ReportData, pass_rates
from distill.spend import OUTCOMES, per_task

Row = tuple[str, str]


def overview(data: ReportData) -> list[Row]:
    s = data.samples
    rows: list[Row] = [("output dir", str(data.out))]
    if data.samples_file is not None:
        note = " (older than samples.jsonl: run `distill grade`)" if data.stale_grades else ""
        rows.append(("read", data.samples_file.name + note))
    seen = int(s["task_id"].nunique())
    if data.task_count is not None:
        rows.append(("tasks", f"{data.task_count:,} ({seen:,} with samples)"))
    else:
        rows.append(("tasks", f"{seen:,} with samples"))
    errors = int((s["status"] == "error").sum())
    rows.append(("samples", f"{len(s):,} ({len(s) - errors:,} ok, {errors:,} error)"))
    judged = int(s["verdict"].isin(JUDGED).sum())
    passed = int((s["verdict"] == "pass").sum())
    if (s["verdict"] != "").any():
        rows.append(
            ("pass rate", f"{pct(passed / judged) if judged else '-'} of {judged:,} judged")
        )
    rows.append(("spend", f"${float(s['cost_usd'].sum()):,.4f} (all samples on file)"))
    if data.history:
        nights = sum(float(r.get("spend_usd") or 0.0) for r in data.history)
        n = len(data.history)
        rows.append(("spend, all runs", f"${nights:,.4f} over {n:,} run{'' if n == 1 else 's'}"))
    rows.append((
        "tokens",
        f"{int(s['prompt_tokens'].sum()):,} in, {int(s['completion_tokens'].sum()):,} out "
        f"({int(s['reasoning_tokens'].sum()):,} reasoning)",
    ))  # fmt: skip
    if data.cache_dir is not None:
        size = "absent" if data.cache_bytes is None else human_bytes(data.cache_bytes)
        rows.append(("cache", f"{size} in {data.cache_dir}"))
    return rows


def last_run(data: ReportData) -> list[Row]:
    """The newest run in history.jsonl; empty when there is no history."""
    run = data.last_run
    if run is None:
        return []
    when = run.get("started_at") or "?"
    outcome = str(run.get("outcome") or "?")
    if run.get("exit_code") is not None:
        outcome += f" (exit {run['exit_code']})"
    rows: list[Row] = [
        ("last run", str(run["run_id"])),
        ("started", str(when)),
        ("outcome", outcome),
    ]
    seconds = data.runs["seconds"].iloc[-1]
    rows.append(("duration", duration(seconds)))
    if run.get("error"):
        rows.append(("error", str(run["error"])))
    if run.get("spend_usd") is not None:
        rows.append(("spend", f"${float(run['spend_usd']):,.4f}"))
    outcomes = Counter(str(r.get("outcome") or "?") for r in data.history)
    rows.append(("runs", ", ".join(f"{n} {o}" for o, n in outcomes.most_common())))
    return rows


def verdicts(data: ReportData) -> list[tuple[str, int, str]]:
    """(status, count, share of samples with a verdict), in VERDICT_STATUSES order."""
    counts = data.samples["verdict"].value_counts()
    total = int(counts[counts.index != ""].sum())
    order = [*VERDICT_STATUSES, *sorted(set(counts.index) - {*VERDICT_STATUSES, ""})]
    return [(st, int(counts[st]), pct(counts[st] / total)) for st in order if st in counts.index]


def rates(data: ReportData) -> list[tuple[str, str, int, int, str]]:
    """(axis, name, judged, passed, rate) for teacher, kind and grader."""
    rows = []
    for axis in AXES:
        for r in pass_rates(data.samples, axis).itertuples(index=False):
            rows.append((axis, str(r[0]), int(r.judged), int(r.passed), pct(r.rate)))
    return rows


SPEND_COLUMNS = ("by", "name", "tasks", "samples", "accepted", "sent / task", "accepted / task",
                 "spend", "$ / accepted")  # fmt: skip


def spend(data: ReportData) -> list[tuple[str, str, int, int, int, str, str, str, str]]:
    """SPEND_COLUMNS per teacher, per kind, then all: what an accepted sample cost."""
    figures = data.spend
    rows = []
    groups = [(axis, sorted((figures.get(axis) or {}).items())) for axis in ("teacher", "kind")]
    if figures.get("all"):
        groups.append(("all", [("all", figures["all"])]))
    for axis, named in groups:
        for name, r in named:
            rows.append((
                axis, str(name), int(r["tasks"]), int(r["samples"]), int(r["accepted"]),
                f"{r['samples_per_task']:.2f}", f"{r['accepted_per_task']:.2f}",
                usd(r["cost_usd"]), usd(r["usd_per_accepted"]),
            ))  # fmt: skip
    return rows


def adaptive(data: ReportData) -> list[tuple[str, int, str, str, int, int, int, int, int, int]]:
    """ADAPTIVE_COLUMNS per adaptive teacher of the newest harvest."""
    return [
        (r["teacher"], r["tasks"], f"{r['samples_per_task']:.2f}", f"{r['accepted_per_task']:.2f}",
         *(r[o] for o in OUTCOMES))
        for r in per_task(data.adaptive)
    ]  # fmt: skip


def errors(data: ReportData) -> list[tuple[str, str, int]]:
    """(stage, kind, count): harvest errors by kind, then verdicts that are not a judgement."""
    s = data.samples
    rows = [
        ("harvest", str(kind), int(n))
        for kind, n in s.loc[s["status"] == "error", "error_kind"].value_counts().items()
    ]
    bad = s[s["verdict"].isin(("error", "ungradeable"))]
    for (status, reason), n in bad.groupby(["verdict", "reason"]).size().items():
        rows.append((f"grade: {status}", str(reason) or "-", int(n)))
    return rows


def usd(value: Any) -> str:
    """Dollars to the millionth: one sample often costs less than a cent."""
    return "-" if value is None else f"${float(value):,.6f}"


def pct(value: Any) -> str:
    return f"{100 * float(value):.1f} %"


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit} ({n:,} bytes)"
        size /= 1024
    raise AssertionError("unreachable")


def duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "?"
    if s != s:  # NaN: the run has no finish time
        return "?"
    if s < 60:
        return f"{s:.1f} s"
    minutes, secs = divmod(round(s), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"

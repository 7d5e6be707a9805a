"""Which examples an export keeps, and the one reason each dropped example is counted under."""

from __future__ import annotations

from distill.config import ExportConfig
from distill.export.examples import Example
from distill.reasoning import has_stray_tags

PAIRED = ("dpo", "kto")  # formats that need failing samples too
NEGATIVE = ("fail", "suspect")  # a failing answer or a hack: what a preference pair rejects


def wanted_statuses(settings: ExportConfig) -> set[str] | None:
    """The verdict statuses kept; None keeps every status."""
    if settings.statuses:
        return set(settings.statuses)
    if settings.format in PAIRED:
        return {"pass", *NEGATIVE, "external"}
    if settings.correct_only:
        return {"pass", "external"}  # ready-made datasets carry no verdict: the user vouches
    return None


def drop_reason(ex: Example, settings: ExportConfig, statuses: set[str] | None) -> str:
    """Why `ex` is not exported, or "" to keep it. Order: broken first, then by choice."""
    if not ex.harvest_ok:
        return "harvest_error"
    if ex.finish_reason == "length" or not ex.reasoning_complete:
        return "truncated"
    if not ex.answer.strip():
        return "empty_answer"
    if has_stray_tags(ex.answer) or (settings.reasoning != "drop" and has_stray_tags(ex.reasoning)):
        return "malformed_reasoning"
    if statuses is not None and ex.status not in statuses:
        return f"verdict_{ex.status}"
    if settings.kinds and ex.kind not in settings.kinds:
        return "kind_filtered"
    if settings.dataset_type == "code" and ex.kind != "code":
        return "not_code"
    if settings.teachers and ex.teacher not in settings.teachers:
        return "teacher_filtered"
    if settings.sources and ex.source not in settings.sources:
        return "source_filtered"
    if settings.finish_reasons and ex.finish_reason not in settings.finish_reasons:
        return "finish_reason_filtered"
    if settings.min_test_cases and ex.test_cases < settings.min_test_cases:
        return "too_few_tests"
    needs_reasoning = settings.reasoning != "drop" and settings.missing_reasoning == "drop"
    if needs_reasoning and not ex.reasoning.strip():
        return "missing_reasoning"
    return ""

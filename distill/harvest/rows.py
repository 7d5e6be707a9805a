"""The rows harvest writes: a sample answered (with its cost) or failed, and the stats they add.

Sync and batch answers go through the same `ok_row`, so a cached answer looks the same whichever
way it was paid for; `batch` prices it at the batch rates.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from distill.config import TeacherConfig
from distill.errors import ProviderError
from distill.harvest.plan import PlannedRequest
from distill.harvest.prices import cache_saving_usd, cost_usd, price_of
from distill.records import Sample

if TYPE_CHECKING:
    from distill.harvest.providers import Completion
    from distill.harvest.runner import HarvestStats


def ok_row(
    teacher: TeacherConfig,
    request: PlannedRequest,
    c: Completion,
    latency_s: float,
    stats: HarvestStats,
    batch: bool = False,
) -> dict[str, Any]:
    """The cached row of an answer; its tokens, cost and cache saving are added to `stats`."""
    price = price_of(teacher)
    cost = cost_usd(price, c.usage, batch)
    stats.prompt_tokens += c.usage.prompt_tokens
    stats.completion_tokens += c.usage.completion_tokens
    stats.cache_hit_tokens += c.usage.cached_tokens
    stats.cache_write_tokens += c.usage.cache_write_tokens
    stats.cache_saving_usd += cache_saving_usd(price, c.usage, batch)
    stats.cost_usd += cost
    return replace(
        sample_of(request, "ok"),
        model=c.model,
        reasoning=c.reasoning,
        reasoning_kind=c.reasoning_kind,
        content=c.content,
        finish_reason=c.finish_reason,
        usage=c.usage,
        cost_usd=round(cost, 8),
        latency_s=round(latency_s, 4),
    ).to_dict()


def error_row(request: PlannedRequest, exc: ProviderError) -> dict[str, Any]:
    error = {"type": type(exc).__name__, "kind": exc.kind, "message": str(exc)}
    return replace(sample_of(request, "error"), error=error).to_dict()


def sample_of(request: PlannedRequest, status: str) -> Sample:
    """What every sample of a request carries, answered or not."""
    return Sample(
        task_id=request.task_id,
        sample_index=request.sample_index,
        teacher=request.teacher,
        request_key=request.key,
        messages=request.messages,
        status=status,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )

"""`distill harvest --dry-run`: what a harvest would send and cost, sending nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distill.config import Config
from distill.harvest.cache import SampleCache
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.prices import cost_usd, price_of
from distill.harvest.shards import harvest_places


@dataclass
class TeacherEstimate:
    teacher: str
    model: str
    planned: int = 0
    cached: int = 0
    to_send: int = 0
    prompt_tokens: int = 0  # estimated, for the requests still to send
    max_completion_tokens: int = 0  # their max_tokens: the most they can cost
    max_cost_usd: float = 0.0
    prompt_cost_usd: float = 0.0


@dataclass
class DryRun:
    teachers: list[TeacherEstimate] = field(default_factory=list)
    example: dict[str, Any] | None = None


def dry_run(config: Config) -> DryRun:
    plan = plan_of(config)  # a shard's tasks alone under --shard
    estimates = {
        name: TeacherEstimate(name, teacher.model) for name, teacher in config.teachers.items()
    }
    places = harvest_places(config)
    cache = SampleCache(places.cache, places.read_also)
    seen: set[str] = set()
    first: PlannedRequest | None = None
    try:
        for request in plan:
            estimate = estimates[request.teacher]
            estimate.planned += 1
            if request.key in seen or (not config.harvest.refresh and request.key in cache):
                estimate.cached += 1
                continue
            seen.add(request.key)
            first = first or request
            max_tokens = int(request.params.get("max_tokens", 0))
            estimate.to_send += 1
            estimate.prompt_tokens += request.charge - max_tokens
            estimate.max_completion_tokens += max_tokens
    finally:
        cache.close()
    for name, estimate in estimates.items():
        price = price_of(config.teachers[name])
        estimate.prompt_cost_usd = cost_usd(price, estimate.prompt_tokens, 0, 0)
        estimate.max_cost_usd = cost_usd(
            price, estimate.prompt_tokens, 0, estimate.max_completion_tokens
        )
    example = None
    if first is not None:
        teacher = config.teachers[first.teacher]
        example = {
            "teacher": first.teacher,
            "provider": teacher.provider,
            "model": teacher.model,
            "request_key": first.key,
            "messages": first.messages,
            **first.params,
        }
    return DryRun(list(estimates.values()), example)

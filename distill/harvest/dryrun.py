"""`distill harvest --dry-run`: what a harvest would send and cost, sending nothing.

A fixed teacher sends every uncached planned request. An adaptive one (accept_per_task = k)
sends between its tasks' first k answers (every answer passes) and all max_samples_per_task of
them; with an earlier pass rate p of that teacher on file (graded.jsonl), the expected count in
between follows from the stopping rule (distill.harvest.adaptive.decide) at a constant p. Every
cost is an upper bound per request: its prompt estimate plus max_tokens, at the teacher's rates
(batch rates for mode = "batch").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from typing import Any

from distill.config import Config, TeacherConfig
from distill.harvest.adaptive import FAILED, PASSED, decide
from distill.harvest.cache import SampleCache
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.prices import Rates, price_of, rates_of
from distill.harvest.shards import harvest_places
from distill.spend import cost_per_accepted


@dataclass
class TeacherEstimate:
    """For an adaptive teacher, planned/to_send/tokens/max_cost_usd are the most it can send
    (every task's max_samples_per_task answers); min_* the least, expected_* in between."""

    teacher: str
    model: str
    planned: int = 0
    cached: int = 0
    to_send: int = 0
    prompt_tokens: int = 0  # estimated, for the requests still to send
    max_completion_tokens: int = 0  # their max_tokens: the most they can cost
    max_cost_usd: float = 0.0
    prompt_cost_usd: float = 0.0
    adaptive: bool = False
    batch: bool = False  # mode = "batch": priced at batch rates
    tasks: int = 0
    min_to_send: int = 0  # every task's first accept_per_task answers pass
    min_cost_usd: float = 0.0
    pass_rate: float | None = None  # this teacher's passes / judged in graded.jsonl
    expected_per_task: float | None = None  # answers a task gets at pass_rate (cached too)
    expected_to_send: float | None = None  # a fixed teacher's is to_send
    expected_cost_usd: float | None = None


@dataclass
class DryRun:
    teachers: list[TeacherEstimate] = field(default_factory=list)
    example: dict[str, Any] | None = None


@dataclass
class _Sums:
    """Requests and tokens to send, weighted (expected) or counted."""

    requests: float = 0.0
    prompt: float = 0.0
    completion: float = 0.0

    def add(self, weight: float, prompt: int, completion: int) -> None:
        self.requests += weight
        self.prompt += weight * prompt
        self.completion += weight * completion

    def usd(self, rates: Rates) -> float:
        return (self.prompt * rates.input + self.completion * rates.output) / 1e6


def dry_run(config: Config) -> DryRun:
    plan = plan_of(config)  # a shard's tasks alone under --shard
    teachers = config.teachers
    estimates = {
        name: TeacherEstimate(name, t.model, adaptive=t.adaptive, batch=t.mode == "batch")
        for name, t in teachers.items()
    }
    rates = earlier_pass_rates(config)
    reach: dict[str, list[float]] = {}
    for name, t in teachers.items():
        if t.adaptive and name in rates:
            estimates[name].pass_rate = rates[name]
            reach[name] = answer_reach(t, rates[name])
            estimates[name].expected_per_task = sum(reach[name])
    low = {name: _Sums() for name in teachers}
    expected = {name: _Sums() for name in teachers}
    tasks: dict[str, set[str]] = {name: set() for name in teachers}
    places = harvest_places(config)
    cache = SampleCache(places.cache, places.read_also)
    seen: set[str] = set()
    first: PlannedRequest | None = None
    try:
        for request in plan:
            name = request.teacher
            estimate = estimates[name]
            estimate.planned += 1
            tasks[name].add(request.task_id)
            if request.key in seen or (not config.harvest.refresh and request.key in cache):
                estimate.cached += 1
                continue
            seen.add(request.key)
            first = first or request
            max_tokens = int(request.params.get("max_tokens", 0))
            prompt = request.charge - max_tokens
            estimate.to_send += 1
            estimate.prompt_tokens += prompt
            estimate.max_completion_tokens += max_tokens
            teacher = teachers[name]
            if not teacher.adaptive or request.sample_index < teacher.accept_per_task:
                low[name].add(1.0, prompt, max_tokens)
            if name in reach:
                expected[name].add(reach[name][request.sample_index], prompt, max_tokens)
    finally:
        cache.close()
    for name, estimate in estimates.items():
        teacher = teachers[name]
        r = rates_of(price_of(teacher), estimate.batch)
        most = _Sums(estimate.to_send, estimate.prompt_tokens, estimate.max_completion_tokens)
        estimate.tasks = len(tasks[name])
        estimate.prompt_cost_usd = _Sums(prompt=estimate.prompt_tokens).usd(r)
        estimate.max_cost_usd = most.usd(r)
        estimate.min_to_send = round(low[name].requests)
        estimate.min_cost_usd = low[name].usd(r)
        if not teacher.adaptive:
            estimate.expected_to_send = float(estimate.to_send)
            estimate.expected_cost_usd = estimate.max_cost_usd
        elif name in reach:
            estimate.expected_to_send = expected[name].requests
            estimate.expected_cost_usd = expected[name].usd(r)
    example = None
    if first is not None:
        teacher = teachers[first.teacher]
        example = {
            "teacher": first.teacher,
            "provider": teacher.provider,
            "model": teacher.model,
            "request_key": first.key,
            "messages": first.messages,
            **first.params,
        }
    return DryRun(list(estimates.values()), example)


def earlier_pass_rates(config: Config) -> dict[str, float]:
    """Each adaptive teacher's passes / judged in graded.jsonl, where it has judged answers."""
    adaptive = {name for name, t in config.teachers.items() if t.adaptive}
    if not adaptive:
        return {}
    by_teacher = cost_per_accepted(config.out / "graded.jsonl", {}).get("teacher", {})
    return {
        name: row["accepted"] / row["judged"]
        for name, row in by_teacher.items()
        if name in adaptive and row["judged"]
    }


def answer_reach(teacher: TeacherConfig, p: float) -> list[float]:
    """P(answer i of a task is asked for), i < max_samples_per_task, when every answer passes
    with probability p: the stopping rule's waves, exactly, over (sent, passes, trailing
    fails). Their sum is the expected number of answers per task."""
    n = teacher.most_samples
    reach = [0.0] * n
    q = 1.0 - p
    # by answers sent: (passes, trailing fails) → probability
    levels: list[dict[tuple[int, int], float]] = [{} for _ in range(n + 1)]
    levels[0][(0, 0)] = 1.0
    for sent in range(n + 1):
        for (passes, trailing), mass in levels[sent].items():
            wave, _ = decide(_statuses(sent, passes, trailing), teacher)
            if not wave:
                continue
            for i in range(sent, sent + wave):
                reach[i] += mass
            after = levels[sent + wave]
            # every answer of the wave fails
            key = (passes, trailing + wave)
            after[key] = after.get(key, 0.0) + mass * q**wave
            # else the wave's last pass is followed by `tail` fails, with `a` passes in all
            for tail in range(wave):
                for a in range(1, wave - tail + 1):
                    odds = comb(wave - tail - 1, a - 1) * p**a * q ** (wave - a)
                    key = (passes + a, tail)
                    after[key] = after.get(key, 0.0) + mass * odds
    return reach


def _statuses(sent: int, passes: int, trailing: int) -> list[str | None]:
    """A verdict list with these counts; the rule reads no more of it than that."""
    fail = FAILED[0]
    return [fail] * (sent - passes - trailing) + [PASSED] * passes + [fail] * trailing

"""`distill harvest --dry-run`: what a harvest would send and cost, sending nothing.

A fixed teacher sends every uncached planned request. An adaptive one (accept_per_task = k)
sends between the fewest answers a task can get (k when every answer passes, fewer when
max_consecutive_fails stops it sooner) and the most (max_samples_per_task), less what is cached.
Cached answers with a verdict in graded.jsonl are put through the rule first, as the harvest
does: a task they already end sends nothing, one they leave open starts from there.
With an earlier pass rate p of that teacher on file (graded.jsonl), the expected count between
them follows from the stopping rule (distill.harvest.adaptive.decide) at a constant p. Every
cost is an upper bound per request: its prompt estimate plus max_tokens, at the teacher's rates
(batch rates for mode = "batch").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from distill.config import Config, TeacherConfig
from distill.harvest.adaptive import FAILED, PASSED, decide
from distill.harvest.cache import SampleCache
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.prices import Rates, price_of, rates_of
from distill.harvest.providers import base_url_of
from distill.harvest.shards import harvest_places
from distill.records import JUDGED, iter_samples


@dataclass
class TeacherEstimate:
    """For an adaptive teacher, to_send, the tokens and max_cost_usd are the most it can send
    (at most max_samples_per_task answers a task, fewer where the rule always stops sooner);
    min_* the least, expected_* in between. A fixed teacher's three are the same."""

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
    settled: int = 0  # tasks their cached, graded answers already end: nothing to send
    in_batches: int = 0  # requests in submitted batches not yet collected: paid, not sent again
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
    earlier = Earlier.read(config)
    for name, rate in earlier.pass_rates.items():
        estimates[name].pass_rate = rate
        estimates[name].expected_per_task = sum(stopping(teachers[name], rate).reach)
    low = {name: _Sums() for name in teachers}
    high = {name: _Sums() for name in teachers}
    expected = {name: _Sums() for name in teachers}
    tasks: dict[str, set[str]] = {name: set() for name in teachers}
    groups: dict[tuple[str, str], list[tuple[PlannedRequest, bool]]] = {}
    places = harvest_places(config)
    cache = SampleCache(places.cache, places.read_also)
    seen: set[str] = set()
    submitted = _in_open_batches(config, places.out)
    first: PlannedRequest | None = None
    try:
        for request in plan:
            name = request.teacher
            estimate = estimates[name]
            estimate.planned += 1
            tasks[name].add(request.task_id)
            if request.key in submitted.get(name, ()):  # its answer is on its way
                estimate.in_batches += 1
                seen.add(request.key)
            cached = request.key in seen or (not config.harvest.refresh and request.key in cache)
            if teachers[name].adaptive:
                groups.setdefault((name, request.task_id), []).append((request, cached))
            if cached:
                estimate.cached += 1
                continue
            seen.add(request.key)
            first = first or request
            if not teachers[name].adaptive:
                for sums in (low[name], high[name], expected[name]):
                    sums.add(1.0, *_tokens(request))
    finally:
        cache.close()
    rules: dict[tuple[str, tuple[int, int, int]], Stopping] = {}
    for (name, _task), requests in groups.items():
        teacher, estimate = teachers[name], estimates[name]
        start = earlier.replay(teacher, requests)
        if start is None:  # its cached, graded answers already end the task
            estimate.settled += 1
            continue
        rule = rules.get((name, start))
        if rule is None:
            p = earlier.pass_rates.get(name, 0.5)  # the fewest and most do not depend on p
            rule = rules[name, start] = stopping(teacher, p, start)
        for request, cached in requests:
            i = request.sample_index
            if cached or i < start[0]:
                continue
            if i < rule.most:
                high[name].add(1.0, *_tokens(request))
            if i < rule.fewest:
                low[name].add(1.0, *_tokens(request))
            if estimate.pass_rate is not None:
                expected[name].add(rule.reach[i], *_tokens(request))
    for name, estimate in estimates.items():
        r = rates_of(price_of(teachers[name]), estimate.batch)
        most = high[name]
        estimate.tasks = len(tasks[name])
        estimate.to_send = round(most.requests)
        estimate.prompt_tokens = round(most.prompt)
        estimate.max_completion_tokens = round(most.completion)
        estimate.prompt_cost_usd = _Sums(prompt=most.prompt).usd(r)
        estimate.max_cost_usd = most.usd(r)
        estimate.min_to_send = round(low[name].requests)
        estimate.min_cost_usd = low[name].usd(r)
        if not estimate.adaptive or estimate.pass_rate is not None:
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


def _in_open_batches(config: Config, out: Path) -> dict[str, set[str]]:
    """Each batch teacher's request keys in batches submitted and not yet collected."""
    from distill.harvest.batch.store import BatchStore  # only for batch teachers

    keys: dict[str, set[str]] = {}
    for name, teacher in config.teachers.items():
        if teacher.mode == "batch":
            store = BatchStore(out / "batches", name, base_url_of(teacher))
            keys[name] = {key for sub in store.load() for key in sub.keys}
    return keys


def _tokens(request: PlannedRequest) -> tuple[int, int]:
    """(prompt estimate, max_tokens) of one request."""
    max_tokens = int(request.params.get("max_tokens", 0))
    return request.charge - max_tokens, max_tokens


@dataclass
class Earlier:
    """What graded.jsonl says of the adaptive teachers: each one's passes / judged, and the
    verdict of each answer by request key."""

    pass_rates: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, config: Config) -> Earlier:
        adaptive = {name for name, t in config.teachers.items() if t.adaptive}
        path = config.out / "graded.jsonl"
        earlier = cls()
        if not adaptive or not path.exists():
            return earlier
        judged: Counter[str] = Counter()
        passed: Counter[str] = Counter()
        for s in iter_samples(path):
            if s.teacher not in adaptive or s.verdict is None:
                continue
            status = s.verdict.status
            earlier.verdicts[s.request_key] = status
            judged[s.teacher] += status in JUDGED
            passed[s.teacher] += status == PASSED
        earlier.pass_rates = {t: passed[t] / n for t, n in sorted(judged.items()) if n}
        return earlier

    def replay(
        self, teacher: TeacherConfig, requests: list[tuple[PlannedRequest, bool]]
    ) -> tuple[int, int, int] | None:
        """Run the stopping rule over a task's cached answers with known verdicts, wave by
        wave as the harvest does: (sent, passes, trailing fails) where they run out, or None
        when they end the task (a rerun sends it nothing). A verdict of "error" is unknown:
        the harvest judges that answer again."""
        statuses: list[str | None] = []
        while True:
            wave, _ = decide(statuses, teacher)
            if not wave:
                return None
            known: list[str | None] = []
            for request, cached in requests[len(statuses) : len(statuses) + wave]:
                verdict = self.verdicts.get(request.key) if cached else None
                if verdict is None or verdict == "error":
                    break
                known.append(verdict)
            if len(known) < wave:
                passes = statuses.count(PASSED)
                fails = (i for i, v in enumerate(reversed(statuses)) if v not in FAILED)
                return len(statuses), passes, next(fails, len(statuses))
            statuses += known


@dataclass(frozen=True)
class Stopping:
    """What the stopping rule does to one task's answers: P(answer i is asked for) at a pass
    probability (their sum: the expected answers per task), and the fewest and most answers a
    task can get whatever its verdicts."""

    reach: list[float]
    fewest: int
    most: int


def stopping(teacher: TeacherConfig, p: float, start: tuple[int, int, int] = (0, 0, 0)) -> Stopping:
    """The rule's waves, exactly, over (sent, passes, trailing fails) when every answer passes
    with probability p, from `start` (the answers before it are settled: their reach is 0).
    Trailing fails are counted up to max_consecutive_fails: the rule reads no further back."""
    n, cap = teacher.most_samples, teacher.max_consecutive_fails
    reach = [0.0] * n
    q = 1.0 - p
    ends: set[int] = set()
    # by answers sent: (passes, trailing fails) → probability; a state is there if any verdicts
    # lead to it (with p of 0 or 1 its probability can be 0)
    levels: list[dict[tuple[int, int], float]] = [{} for _ in range(n + 1)]
    sent0, passes0, trailing0 = start
    levels[sent0][(passes0, min(trailing0, cap))] = 1.0
    for sent in range(sent0, n + 1):
        for (passes, trailing), mass in levels[sent].items():
            wave, _ = decide(_statuses(sent, passes, trailing), teacher)
            if not wave:
                ends.add(sent)
                continue
            for i in range(sent, sent + wave):
                reach[i] += mass
            # the whole wave fails; else its last pass is followed by `tail` fails, of `a`
            # passes in all
            outcomes = [((passes, min(trailing + wave, cap)), q**wave)]
            for tail in range(wave):
                for a in range(1, wave - tail + 1):
                    odds = comb(wave - tail - 1, a - 1) * p**a * q ** (wave - a)
                    outcomes.append(((passes + a, min(tail, cap)), odds))
            after = levels[sent + wave]
            for key, odds in outcomes:
                after[key] = after.get(key, 0.0) + mass * odds
    return Stopping(reach, min(ends), max(ends))


def _statuses(sent: int, passes: int, trailing: int) -> list[str | None]:
    """A verdict list with these counts; the rule reads no more of it than that."""
    fail: str | None = FAILED[0]
    return [fail] * (sent - passes - trailing) + [PASSED] * passes + [fail] * trailing

"""Adaptive sampling: send a task's samples in waves and stop once enough of them pass.

A teacher with `accept_per_task = k` asks a task for `k` answers, grades each as it arrives, and
asks again for as many as are still missing, until `k` pass (saturated), `max_samples_per_task`
were sent (exhausted) or the last `max_consecutive_fails` failed (gave up). Every decision is a
function of the verdicts of samples 0..i-1 in index order, never of arrival order, so a re-run
reads the same answers from the cache, gets the same verdicts and sends nothing; a killed run
re-asks only what was in flight.

Grading is the caller's: a `Judge` (distill.pipeline builds one on the graders) turns a sample
row into a verdict status. A sample without an answer (an error after every retry, a teacher
that refused us, the cost cap) stalls its task for this run; the next run asks again.

Batch teachers (mode = "batch") run the same decisions in rounds over their whole queue: collect
the batches that ended, decide, submit the next waves; `--wait` loops until every task is done,
otherwise a later run collects. A fixed batch teacher's "wave" is every sample at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from distill.config import Config, TeacherConfig
from distill.harvest.plan import PlannedRequest

if TYPE_CHECKING:
    from distill.harvest.runner import HarvestStats

log = logging.getLogger(__name__)

PASSED = "pass"
FAILED = ("fail", "suspect")  # a suspect answer is not accepted: it counts as a failure
OUTCOMES = ("saturated", "exhausted", "gave_up", "ungradeable", "stalled", "waiting")


class Judge(Protocol):
    """Grades one harvested sample row (an answer, with its task id) into a verdict status:
    pass, fail, suspect, ungradeable or error (the harness failed: not a judgement)."""

    async def judge(self, row: dict[str, Any]) -> str: ...


class Sender(Protocol):
    """What the driver needs from the runner: cached answers and sending."""

    config: Config
    errors: dict[str, dict[str, Any]]

    def cached(self, request: PlannedRequest) -> dict[str, Any] | None: ...

    async def fetch(self, request: PlannedRequest) -> dict[str, Any] | None: ...

    def batch_lane(self, teacher: str) -> Any: ...


@dataclass
class Group:
    """One task's planned samples from one teacher, in sample-index order."""

    task_id: str
    teacher: str
    requests: list[PlannedRequest]
    statuses: list[str | None] = field(default_factory=list)  # verdicts of the samples so far
    outcome: str = ""

    @property
    def sent(self) -> int:
        return len(self.statuses)


def groups_of(plan: list[PlannedRequest], config: Config) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for request in plan:
        key = (request.task_id, request.teacher)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(request.task_id, request.teacher, [])
        group.requests.append(request)
    for group in groups.values():
        group.requests.sort(key=lambda r: r.sample_index)
    return list(groups.values())


def decide(statuses: list[str | None], teacher: TeacherConfig) -> tuple[int, str]:
    """(how many more samples to send, "") or (0, why the task is done) after these verdicts."""
    n = teacher.most_samples
    if not teacher.adaptive:  # fixed: every sample, in one wave
        if len(statuses) < n:
            return n - len(statuses), ""
        return 0, "stalled" if None in statuses else "exhausted"
    if None in statuses:
        return 0, "stalled"
    if "error" in statuses:  # the harness failed on an answer: judge it again next run
        return 0, "stalled"
    passes = statuses.count(PASSED)
    if passes >= teacher.accept_per_task:
        return 0, "saturated"
    if "ungradeable" in statuses:  # nothing here can say whether an answer is right
        return 0, "ungradeable"
    trailing = next((i for i, s in enumerate(reversed(statuses)) if s not in FAILED), len(statuses))
    m = teacher.max_consecutive_fails
    if m and trailing >= m:
        return 0, "gave_up"
    if len(statuses) >= n:
        return 0, "exhausted"
    wave = min(teacher.accept_per_task - passes, n - len(statuses))
    # Never past the fail that would end the task: those answers would be paid for nothing.
    return (min(wave, m - trailing) if m else wave), ""


class Driver:
    """Runs every group to its outcome; returns the (task, teacher, index) of the samples sent."""

    def __init__(
        self, config: Config, sender: Sender, judge: Judge | None, stats: HarvestStats
    ) -> None:
        self.config = config
        self.sender = sender
        self.judge = judge
        self.stats = stats

    async def run(self, groups: list[Group]) -> set[tuple[str, str, int]]:
        by_teacher: dict[str, list[Group]] = {}
        for group in groups:
            by_teacher.setdefault(group.teacher, []).append(group)
        jobs: list[Awaitable[None]] = []
        for name, mine in by_teacher.items():
            teacher = self.config.teachers[name]
            if teacher.mode == "batch":
                jobs.append(self._batch_rounds(name, mine))
            else:
                queue: asyncio.Queue[Group] = asyncio.Queue()
                for group in mine:
                    queue.put_nowait(group)
                count = min(teacher.limits.max_in_flight, len(mine))
                jobs += [self._sync_worker(teacher, queue) for _ in range(count)]
        await asyncio.gather(*jobs)
        for name, mine in by_teacher.items():
            if self.config.teachers[name].adaptive:
                self.stats.adaptive[name] = summarize(mine)
        return {
            (g.task_id, g.teacher, r.sample_index) for g in groups for r in g.requests[: g.sent]
        }

    async def _sync_worker(self, teacher: TeacherConfig, queue: asyncio.Queue[Group]) -> None:
        while not queue.empty():
            group = queue.get_nowait()
            while True:
                more, group.outcome = decide(group.statuses, teacher)
                if not more:
                    break
                wave = group.requests[group.sent : group.sent + more]
                group.statuses += await asyncio.gather(
                    *(self._answer_and_judge(group, r) for r in wave)
                )

    async def _answer_and_judge(self, group: Group, request: PlannedRequest) -> str | None:
        return await self._judged(group, await self.sender.fetch(request))

    async def _judged(self, group: Group, row: dict[str, Any] | None) -> str | None:
        if row is None or row.get("status") != "ok":
            return None
        if self.judge is None or not self.config.teachers[group.teacher].adaptive:
            return "ok"  # a fixed teacher's answers are graded by the grade stage
        return await self.judge.judge(dict(row, task_id=group.task_id, teacher=group.teacher))

    async def _batch_rounds(self, name: str, groups: list[Group]) -> None:
        """Collect what ended, decide, submit the next waves; with --wait, until all are done."""
        if not await self._batch_wanted(name, groups):
            return  # every task is done from the cache: no batch to ask about
        lane = self.sender.batch_lane(name)
        await lane.collect()
        while True:
            needed = await self._batch_wanted(name, groups)
            fresh = [r for r in needed if r.key not in lane.open_keys()]
            sent = await lane.submit(fresh) if fresh else 0
            if not needed or not self.config.harvest.wait:
                break
            if lane.open_keys():
                await lane.wait()  # until a batch ends; it collects that batch
            elif not sent:
                break  # nothing out and nothing new to send: no progress left this run
        waiting = [g for g in groups if not g.outcome]
        for group in waiting:
            group.outcome = "waiting"
        if waiting:
            log.info("teacher %s: %d tasks wait for batches that have not ended; a later run "
                     "(or --wait) collects them", name, len(waiting))  # fmt: skip

    async def _batch_wanted(self, name: str, groups: list[Group]) -> list[PlannedRequest]:
        """Advance every group as far as its answered samples allow; what they still need.

        Each pass judges the ready waves of every group at once, so collected answers are
        graded in parallel on the judge's pool, not one after another."""
        teacher = self.config.teachers[name]
        needed: list[PlannedRequest] = []
        moving = [g for g in groups if not g.outcome]
        while moving:
            ready: list[tuple[Group, list[dict[str, Any]]]] = []
            for group in moving:
                more, outcome = decide(group.statuses, teacher)
                if not more:
                    group.outcome = outcome
                    continue
                wave = group.requests[group.sent : group.sent + more]
                rows = [self.sender.cached(r) or self.sender.errors.get(r.key) for r in wave]
                missing = [r for r, row in zip(wave, rows, strict=True) if row is None]
                if missing:  # answers still to come
                    needed += missing
                else:
                    ready.append((group, [row for row in rows if row is not None]))
            judged = await asyncio.gather(
                *(asyncio.gather(*(self._judged(g, row) for row in rows)) for g, rows in ready)
            )
            for (group, _), statuses in zip(ready, judged, strict=True):
                group.statuses += statuses
            moving = [group for group, _ in ready]
        return needed


def summarize(groups: list[Group]) -> dict[str, int]:
    """An adaptive teacher's figures: tasks, samples sent, accepted, and tasks by outcome."""
    outcomes = Counter(g.outcome for g in groups)
    return {
        "tasks": len(groups),
        "samples": sum(g.sent for g in groups),
        "accepted": sum(g.statuses.count(PASSED) for g in groups),
        **{outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
    }

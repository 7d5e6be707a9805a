"""Grading answers as they arrive, for adaptive sampling: the harvest decides from these verdicts.

The same graders, options and verdict cache as run_grade, so the grade stage that follows is a
cache read and gives the same verdicts. Graders run in a process pool beside the event loop (a
code verdict runs programs for seconds); the loop only waits on futures. Grading on Ray
(`grade.executor = "ray"`) applies to the grade stage; these verdicts are computed here.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import diskcache

from distill.config import Config
from distill.grade import runner
from distill.grade.registry import Grader
from distill.records import Sample, Task, sample_from_dict
from distill.tasks import load_tasks


class LiveJudge:
    """A harvest Judge (distill.harvest.adaptive): a sample row in, its verdict status out."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._tasks = {t.id: t for t in load_tasks(config)}
        self._graders = runner.graders_for(config)
        self._cache = diskcache.Cache(
            str(config.cache / "grade"), eviction_policy="none", size_limit=2**62
        )
        # Forked now, before the harvest's event loop and HTTP clients start threads: a fork
        # from a threaded process can inherit a lock held by another thread (the pool forks
        # every worker at its first task when it uses fork).
        count = config.grade.workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(
            max_workers=count, initializer=runner.init_worker, initargs=(runner.hide_paths(config),)
        )
        self._pool.submit(os.getpid).result()
        self._running: dict[str, asyncio.Future[str]] = {}
        self._graded: set[str] = set()  # keys graded this run (what --regrade redoes once)
        self.graded = 0  # verdicts computed, not read from the cache

    async def judge(self, row: dict[str, Any]) -> str:
        sample = sample_from_dict(row)
        verdict, job = runner.precheck(sample, self._tasks, self._graders)
        if job is None:
            assert verdict is not None
            return verdict.status
        grader, task = job
        key = runner.verdict_key(sample, task, grader, self.config)
        if not self.config.grade.regrade or key in self._graded:
            hit = self._cache.get(key)
            if isinstance(hit, dict):
                return str(hit["status"])
        running = self._running.get(key)
        if running is not None:  # the same answer to the same task: grade it once
            return await asyncio.shield(running)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            status = await self._grade(key, grader, task, sample)
            future.set_result(status)
            return status
        finally:
            del self._running[key]
            if not future.done():
                future.cancel()

    async def _grade(self, key: str, grader: Grader, task: Task, sample: Sample) -> str:
        job = (grader, task, sample, runner.options_of(self.config, grader))
        loop = asyncio.get_running_loop()
        verdict = await loop.run_in_executor(self._pool, runner.grade_one, job)
        self.graded += 1
        self._graded.add(key)
        if verdict.status != "error":  # a harness failure is graded again next run
            self._cache.set(key, verdict.to_dict())
        return verdict.status

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cache.close()

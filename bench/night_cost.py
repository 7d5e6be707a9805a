"""A 10M-sample night's grading in core-hours and cores, from costs measured here (issue 15).

Measured in this run, each on one core of this machine (serially, so a busy neighbour core does
not blur it):
1. a code test: the code grader on (solution, tests) pairs from the bundled code tasks (as
   bench/grade.py builds them: reference solutions, hard-coded-output hacks, off-by-one
   programs), a fresh sandboxed process per test, stopping at a pair's first failing test;
   core-seconds per test run.
2. a math answer: the answer grader on bench/_grade_answers.py's mixed set (integers, fractions,
   decimals, choices, LaTeX expressions; about 30 % need mpmath or the math-verify worker);
   core-seconds per answer, the math-verify child included.
3. Ray's overhead: a local Ray with one CPU per core here grades cheap answers (well_formed, a
   few microseconds each) through distill's Ray executor, chunks and back-pressure as in a run;
   (wall x CPUs - their serial cost) / tasks = core-seconds a Ray task costs beyond its work.
   Ray's start-up is timed apart: once per run, not per sample.

Then, with the night's assumptions (flags): samples, the code share (the rest math), the tests
a code sample runs (a failing one stops at its first failure), the night's length and a node's
cores: core-hours = samples x (code share x tests x per-test + math share x per-answer + Ray
overhead per sample), and the cores (and nodes) that finish it in one night. Every sample is
taken as new: a re-run of unchanged samples is a verdict-cache read. The bundled programs are
small and their tests tiny; a last line redoes the sum with heavier tests (--heavy-test-ms, a
guess for large hidden inputs, not a measurement).

Usage: python bench/night_cost.py [--samples 10000000] [--code-share 0.5] [--tests 20]
           [--night-hours 8] [--node-cores 64] [--heavy-test-ms 100]
           [--pairs 150] [--answers 3000] [--ray-jobs 16000]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from distill.grade import answer, code, math_equiv, ray_executor
from distill.grade.registry import GRADERS
from distill.grade.runner import Job, grade_one
from distill.records import Sample, Task

sys.path.insert(0, str(Path(__file__).parent))
from _grade_answers import build_set
from grade import build_pairs, distill_one


def per_test_s(pairs: int) -> tuple[float, int]:
    """Core-seconds per code test run, and how many ran."""
    work = build_pairs(pairs)
    code.configure_sandbox([])
    distill_one(work[0])  # the sandbox's zygote starts once per worker: not a test's cost
    started = time.perf_counter()
    tests = sum(ran for _, ran in map(distill_one, work))
    return (time.perf_counter() - started) / tests, tests


def per_answer_s(answers: int) -> float:
    jobs = build_set(answers)
    answer.grade(*jobs[0][:2], {})  # the math-verify worker starts once per grading process
    started = time.perf_counter()
    for task, sample, _ in jobs:
        answer.grade(task, sample, {})
    return (time.perf_counter() - started) / len(jobs)


def cheap_jobs(n: int) -> list[Job]:
    grader = GRADERS["well_formed"]
    task = Task("chat-1", "chat", prompt="Say something.")
    text = "A plain answer of a few words, long enough to be well formed."
    return [(grader, task, Sample("chat-1", i, "bench", f"k{i}", [], "ok", content=text), {})
            for i in range(n)]  # fmt: skip


def ray_overhead_s(jobs: int) -> tuple[float, float, int, int]:
    """(core-seconds per Ray task beyond its work, Ray start-up s, CPUs, tasks)."""
    import ray

    work = cheap_jobs(jobs)
    started = time.perf_counter()
    for job in work:
        grade_one(job)
    serial_s = time.perf_counter() - started
    cpus = os.cpu_count() or 1
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    started = time.perf_counter()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, _temp_dir=temp,
             object_store_memory=200 * 1024**2, logging_level=logging.ERROR)  # fmt: skip
    try:
        ray_executor.grade_connected(ray, work[: 4 * cpus], ())  # start the workers
        startup_s = time.perf_counter() - started
        started = time.perf_counter()
        verdicts = ray_executor.grade_connected(ray, work, ())
        wall_s = time.perf_counter() - started
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    assert len(verdicts) == len(work) and all(v.status == "pass" for v in verdicts)
    tasks = -(-jobs // min(ray_executor.CHUNK, max(1, jobs // (4 * cpus))))
    return (wall_s * cpus - serial_s) / tasks, startup_s, cpus, tasks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--code-share", type=float, default=0.5)
    parser.add_argument("--tests", type=float, default=20, help="test runs per code sample")
    parser.add_argument("--night-hours", type=float, default=8)
    parser.add_argument("--node-cores", type=int, default=64)
    parser.add_argument("--heavy-test-ms", type=float, default=100.0)
    parser.add_argument("--pairs", type=int, default=150)
    parser.add_argument("--answers", type=int, default=3000)
    parser.add_argument("--ray-jobs", type=int, default=16000)
    args = parser.parse_args()

    test_s, tests = per_test_s(args.pairs)
    try:
        answer_s = per_answer_s(args.answers)
    finally:
        math_equiv.shutdown()
    task_s, startup_s, cpus, tasks = ray_overhead_s(args.ray_jobs)
    sample_ray_s = task_s / ray_executor.CHUNK  # a full run's chunks hold CHUNK samples

    n, share = args.samples, args.code_share
    code_h = n * share * args.tests * test_s / 3600
    math_h = n * (1 - share) * answer_s / 3600
    ray_h = n * sample_ray_s / 3600
    total_h = code_h + math_h + ray_h
    cores = total_h / args.night_hours
    print("measured here (one core each):")
    print(f"  code test  : {test_s * 1e3:6.2f} ms per test run ({tests} runs, "
          f"{1 / test_s:,.0f} tests/s per core)")  # fmt: skip
    print(f"  math answer: {answer_s * 1e3:6.2f} ms per answer ({args.answers} answers, "
          f"{1 / answer_s:,.0f}/s per core)")  # fmt: skip
    print(f"  Ray task   : {task_s * 1e3:6.2f} ms of a core beyond its work ({tasks} tasks of "
          f"<= {ray_executor.CHUNK} answers on {cpus} CPUs) = {sample_ray_s * 1e3:.3f} ms per "
          f"sample; Ray start-up {startup_s:.1f} s once per run")  # fmt: skip
    print(f"a night of {n:,} new samples: {share:.0%} code x {args.tests:g} test runs each, "
          f"{1 - share:.0%} math:")  # fmt: skip
    print(f"  code {code_h:,.0f} + math {math_h:,.1f} + Ray {ray_h:,.1f} = {total_h:,.0f} "
          f"core-hours ({code_h / total_h:.0%} of it running tests)")  # fmt: skip
    print(f"  in {args.night_hours:g} h: {cores:,.0f} cores = "
          f"{cores / args.node_cores:,.1f} nodes of {args.node_cores} cores; on one such node: "
          f"{total_h / args.node_cores:,.1f} h")  # fmt: skip
    heavy_h = total_h - code_h + n * share * args.tests * args.heavy_test_ms / 1e3 / 3600
    heavy_cores = heavy_h / args.night_hours
    print(f"  with {args.heavy_test_ms:g} ms tests (assumed, not measured): {heavy_h:,.0f} "
          f"core-hours; in {args.night_hours:g} h: {heavy_cores:,.0f} cores = "
          f"{heavy_cores / args.node_cores:,.1f} nodes")  # fmt: skip


if __name__ == "__main__":
    main()

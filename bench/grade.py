"""Grading figures, in one run (issue 4).

1. Code: 500 (solution, tests) pairs built from the bundled code tasks (reference solutions,
   hard-coded-output hacks and off-by-one programs), graded by distill's code grader (sandboxed,
   a fresh process per test forked from a pre-warmed zygote) and by a baseline that starts one
   fresh `python` subprocess per test; both on a pool of one worker per CPU, both stopping a
   pair at its first failing test. Prints test cases/s for both, the ratio, and whether every
   pair got the same outcome.
2. Answers: answers graded per second on a mixed math set (see bench/_grade_answers.py).
3. Answer truth: accuracy, false passes and false fails (overall and per category) on the labelled
   adversarial corpus bench/data/answer_corpus.jsonl (issue 13).

Usage: python bench/grade.py [--pairs 500] [--answers 20000] [--only code|answers]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from distill.code_tests import CodeTest, parse_tests
from distill.grade import code
from distill.grade.compare import outputs_match
from distill.paths import example_task_files
from distill.records import Sample, Task, read_tasks

sys.path.insert(0, str(Path(__file__).parent))
from _grade_answers import answer_figures, corpus_figures


def wrong_programs(task: Task) -> list[str]:
    tests = task.reference["tests"]
    first = tests["public"][0]["output"]
    hardcoded = f"import sys\nsys.stdin.read()\nsys.stdout.write({first!r})\n"
    off_by_one = "import sys\ndata = sys.stdin.read().split()\nprint(len(data) - 1)\n"
    return [hardcoded, off_by_one]


def build_pairs(count: int) -> list[tuple[Task, str]]:
    tasks = [t for t in read_tasks(example_task_files()) if t.kind == "code"]
    pairs: list[tuple[Task, str]] = []
    variant = 0
    while len(pairs) < count:
        for task in tasks:
            programs = [task.reference["solution"]] * 3 + wrong_programs(task)
            for program in programs:
                variant += 1
                pairs.append((task, f"# variant {variant}\n{program}"))
    return pairs[:count]


def sample_for(task: Task, program: str) -> Sample:
    return Sample(
        task_id=task.id,
        sample_index=0,
        teacher="bench",
        request_key="k",
        messages=[],
        status="ok",
        content=f"```python\n{program}```",
        finish_reason="stop",
    )


def distill_one(pair: tuple[Task, str]) -> tuple[bool, int]:
    task, program = pair
    verdict = code.grade(task, sample_for(task, program), {})
    passed = int(verdict.details.get("tests_passed", 0))
    ran = passed + (1 if "first_failure" in verdict.details else 0)
    return verdict.status in ("pass", "suspect") and "first_failure" not in verdict.details, ran


def baseline_one(pair: tuple[Task, str]) -> tuple[bool, int]:
    """One fresh `python` subprocess per test, in a temp dir, with a timeout: the usual harness."""
    task, program = pair
    suite = parse_tests(task.reference)
    ran = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "main.py"
        path.write_text(program)
        for case in suite.public + suite.hidden:
            ran += 1
            if not _baseline_case(path, case):
                return False, ran
    return True, ran


def _baseline_case(path: Path, case: CodeTest) -> bool:
    try:
        done = subprocess.run(
            [sys.executable, str(path)],
            input=str(case.input).encode(),
            capture_output=True,
            timeout=6,
            cwd=path.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and outputs_match(done.stdout.decode(), str(case.output), {})


def warm_worker(_: int) -> int:
    """Start this worker's sandbox (its zygote) and run one program in it."""
    time.sleep(0.05)  # hold the worker so that every worker gets one of these
    return code._get_sandbox().run_python("print(1)").returncode or 0


def code_figures(pairs: int) -> list[str]:
    work = build_pairs(pairs)
    workers = os.cpu_count() or 1
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=code.configure_sandbox, initargs=([],)) as pool:
        # A grading run serves thousands of tests from one pool: its start-up (worker
        # processes, one zygote each) is timed apart, and the rate is the steady state's.
        list(pool.map(warm_worker, range(workers)))
        startup_s = time.perf_counter() - started
        started = time.perf_counter()
        ours = list(pool.map(distill_one, work, chunksize=8))
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # the subprocesses do the work; threads wait
        base = list(pool.map(baseline_one, work))
    base_s = time.perf_counter() - started
    ours_tests, base_tests = sum(n for _, n in ours), sum(n for _, n in base)
    same = all(a[0] == b[0] for a, b in zip(ours, base, strict=True))
    passing = sum(ok for ok, _ in ours)
    ratio = (ours_tests / ours_s) / (base_tests / base_s)
    return [
        f"1. code: {len(work)} pairs ({passing} all-tests-pass), {workers} workers",
        f"   distill code grader : {ours_tests:5d} test runs in {ours_s:6.2f} s = "
        f"{ours_tests / ours_s:7.1f} tests/s",
        f"   fresh python per test: {base_tests:5d} test runs in {base_s:6.2f} s = "
        f"{base_tests / base_s:7.1f} tests/s",
        f"   ratio {ratio:.1f}x (goal >= 5x); identical outcomes for every pair: {same}",
        f"   (pool start-up, {workers} workers with a zygote each: {startup_s:.2f} s, once per "
        f"grading run; counted in: {ours_tests / (ours_s + startup_s):.1f} tests/s, ratio "
        f"{(ours_tests / (ours_s + startup_s)) / (base_tests / base_s):.1f}x)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--answers", type=int, default=20000)
    parser.add_argument("--only", choices=["code", "answers"], help="one part (default both)")
    args = parser.parse_args()
    if args.only != "answers":
        for line in code_figures(args.pairs):
            print(line)
    if args.only != "code":
        print("2. answers:")
        for line in answer_figures(args.answers):
            print(f"   {line}")
        print("3. answer truth:")
        for line in corpus_figures():
            print(f"   {line}")


if __name__ == "__main__":
    main()

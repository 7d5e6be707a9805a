"""Answer-grader throughput on a mixed math set (issue 4): answers/s, share per rule, the goal.

The set is built here, deterministically: tasks with 8 samples each (a distillation run draws
several per problem), the tasks shuffled, each task's samples together and in order, as harvest
writes samples.jsonl (plan order) and the runner hands them out. Gold answers are integers
(35 %), fractions (12 %), decimals, money and percentages (8 %), multiple choice (5 %) and LaTeX
expressions (40 %: a quarter written exactly as the gold, half written another way, a quarter
wrong), so about 70 % match as strings or plain numbers and 30 % need more: exact numbers and
sets of them (settled in-process by mpmath) or symbolic answers (math-verify's worker). Every
answer knows whether it is right; the run reports how many verdicts disagree with that label.

Graded as the runner grades: `answer.grade` over a process pool, one worker per CPU, chunks of 16;
the wall time includes starting the pool and each worker's math-verify process.

Truth on the labelled adversarial corpus (bench/data/answer_corpus.jsonl, issue 13): accuracy,
false passes (a wrong answer passed) and false fails (a right one failed), overall and per
category; an `error` or `ungradeable` verdict counts as a failure to pass.

Usage: python bench/_grade_answers.py [n]
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from distill.grade import answer
from distill.records import Sample, Task, Verdict

CORPUS = Path(__file__).parent / "data" / "answer_corpus.jsonl"
GOAL_PER_S = 1000
SAMPLES_PER_TASK = 8

Job = tuple[Task, Sample, bool]  # the task, the answer, whether it is right


def _sample(task_id: str, i: int, content: str) -> Sample:
    return Sample(task_id, i, "bench", f"{task_id}/{i}", [], "ok", content=content)


def _integer(r: random.Random) -> tuple[str, list[str], list[str], dict[str, object]]:
    k = r.randint(2, 5000)
    right = [f"\\boxed{{{k}}}", f"The answer is {k}.", f"**Final Answer:** {k}", f"so {k}"]
    if k >= 1000:
        right.append(f"\\boxed{{{k:,}}}")
    return str(k), right, [f"\\boxed{{{k + 1}}}", f"The answer is {2 * k}."], {}


def _fraction(r: random.Random) -> tuple[str, list[str], list[str], dict[str, object]]:
    a, b = r.choice([(1, 2), (3, 4), (5, 8), (7, 3), (2, 9), (11, 6)])
    gold = f"\\frac{{{a}}}{{{b}}}"
    right = [f"\\boxed{{{gold}}}", f"\\boxed{{\\dfrac{{{a}}}{{{b}}}}}", f"The answer is {a}/{b}."]
    if b in (2, 4, 8):
        right.append(f"\\boxed{{{a / b}}}")
    return gold, right, [f"\\boxed{{\\frac{{{b}}}{{{a}}}}}"], {}


def _decimal(r: random.Random) -> tuple[str, list[str], list[str], dict[str, object]]:
    cents = r.randint(100, 99999)
    value = f"{cents // 100}.{cents % 100:02d}"
    kind = r.choice(["money", "length", "percent"])
    if kind == "percent":
        p = r.randint(1, 99)
        return (
            str(p),
            [f"\\boxed{{{p}\\%}}", f"The answer is {p}%."],
            [f"\\boxed{{{p + 5}\\%}}"],
            {},
        )
    unit = "\\$" if kind == "money" else ""
    suffix = "" if kind == "money" else " cm"
    right = [f"\\boxed{{{unit}{value}}}", f"The answer is {value}{suffix}."]
    return value, right, [f"\\boxed{{{unit}{cents / 10:.1f}}}"], {}


def _choice(r: random.Random) -> tuple[str, list[str], list[str], dict[str, object]]:
    gold, other = r.sample("ABCD", 2)
    right = [f"Answer: {gold}", f"The answer is ({gold}).", f"\\boxed{{{gold}}}"]
    return gold, right, [f"Answer: {other}"], {"choices": list("ABCD")}


def _expression(r: random.Random) -> tuple[str, list[str], list[str], dict[str, object]]:
    a, b, c = r.randint(2, 9), r.choice([2, 3, 5, 6, 7]), r.randint(2, 9)
    n = a * 10 + b + (a * 10 + b in (36, 64))  # not a perfect square
    forms = [  # (gold, other ways to write it, a wrong answer)
        (
            f"{a}\\sqrt{{{b}}}",
            [f"\\sqrt{{{a * a * b}}}", f"\\sqrt{{{b}}} \\cdot {a}"],
            f"{a + 1}\\sqrt{{{b}}}",
        ),
        (
            f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c}}}",
            [f"\\frac{{{a}}}{{{c}}}\\sqrt{{{b}}}"],
            f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c + 1}}}",
        ),
        (
            f"\\frac{{{a}\\pi}}{{{c}}}",
            [f"\\frac{{{a}}}{{{c}}}\\pi", f"{a}\\pi/{c}"],
            f"\\frac{{{a + 1}\\pi}}{{{c}}}",
        ),
        (
            f"x^2 + {a + c}x + {a * c}",
            [f"(x+{a})(x+{c})", f"x^{{2}}+{a + c}x+{a * c}"],
            f"(x+{a})(x-{c})",
        ),
        (f"{a} + \\sqrt{{{b}}}", [f"\\sqrt{{{b}}} + {a}"], f"{a} - \\sqrt{{{b}}}"),
        (f"\\{{{a}, {a + c}\\}}", [f"\\{{{a + c}, {a}\\}}"], f"\\{{{a}, {a + c + 1}\\}}"),
        (f"e^{{{a}}}", [f"e^{a}"], f"e^{{{a + 1}}}"),
        (  # symbolic: only sympy can tell
            f"\\frac{{x+{a}}}{{x-{a}}}",
            [f"1 + \\frac{{{2 * a}}}{{x-{a}}}", f"\\frac{{{a}+x}}{{x-{a}}}"],
            f"1 + \\frac{{{a}}}{{x-{a}}}",
        ),
        (  # a decimal for a radical: math-verify's rounding rules
            f"\\sqrt{{{n}}}",
            [f"{n**0.5:.6f}"],
            f"{n**0.5:.2f}",
        ),
    ]
    gold, others, wrong = r.choice(forms)
    # a quarter exact, half another way, a quarter wrong (drawn by build_set)
    right = [f"\\boxed{{{gold}}}", *(f"\\boxed{{{o}}}" for o in others)]
    return gold, right, [f"\\boxed{{{wrong}}}"], {}


Maker = Callable[[random.Random], tuple[str, list[str], list[str], dict[str, object]]]
_MIX: list[tuple[Maker, float]] = [
    (_integer, 0.35),
    (_fraction, 0.12),
    (_decimal, 0.08),
    (_choice, 0.05),
    (_expression, 0.40),
]


def build_set(n: int, seed: int = 7) -> list[Job]:
    r = random.Random(seed)
    tasks: list[list[Job]] = []
    makers, weights = zip(*_MIX, strict=True)
    for t in range(-(-n // SAMPLES_PER_TASK)):
        maker = r.choices(makers, weights)[0]
        gold, right, wrong, extra = maker(r)
        task = Task(f"bench-{t}", "math", prompt="?", reference={"answer": gold, **extra})
        jobs: list[Job] = []
        for i in range(SAMPLES_PER_TASK):
            if maker is _expression:
                roll = r.random()
                ok = roll < 0.75
                content = (
                    right[0] if roll < 0.25 else r.choice(right[1:]) if ok else r.choice(wrong)
                )
            else:
                ok = r.random() < 0.75
                content = r.choice(right if ok else wrong)
            jobs.append((task, _sample(task.id, i, f"Reasoning done.\n\n{content}"), ok))
        tasks.append(jobs)
    r.shuffle(tasks)  # kinds mixed, but a task's samples stay together, as in samples.jsonl
    return [job for jobs in tasks for job in jobs][:n]


def _grade_job(job: Job) -> Verdict:
    task, sample, _ = job
    return answer.grade(task, sample, {})


def answer_figures(n: int = 20000) -> list[str]:
    jobs = build_set(n)
    workers = os.cpu_count() or 1
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(_grade_job, jobs, chunksize=16))
    wall = time.perf_counter() - started
    rate = len(jobs) / wall
    rules = Counter(str(v.details.get("rule", v.reason)) for v in verdicts)
    statuses = Counter(v.status for v in verdicts)
    wrong = sum((v.status == "pass") != ok for v, (_, _, ok) in zip(verdicts, jobs, strict=True))
    plain = sum(rules[k] for k in ("exact", "numeric", "choice", "short")) / len(jobs)
    in_worker = ("math_verify", "math_verify_guard", "sympy_eval")
    worker = sum(rules[k] for k in in_worker) / len(jobs)
    distinct = len(
        {
            (v.details["expected"], v.details["extracted"])
            for v in verdicts
            if v.details.get("rule") in in_worker
        }
    )
    met = "met" if rate >= GOAL_PER_S else "NOT met"
    lines = [
        f"answers: {len(jobs):,} graded in {wall:.2f} s on {workers} worker(s): {rate:,.0f}/s",
        "share per rule: " + ", ".join(f"{k} {v / len(jobs):.1%}" for k, v in rules.most_common()),
        f"settled by string/number matching: {plain:.1%}; by mpmath on exact numbers: "
        f"{rules['numeric_eval'] / len(jobs):.1%}; in the math-verify worker: {worker:.1%}",
        f"math-verify worker: {distinct:,} distinct comparisons (repeats come from the"
        " per-process result cache: a task's samples often write the answer alike)",
        "verdicts: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()),
        f"verdicts that disagree with the set's labels: {wrong}",
        f"goal: >= {GOAL_PER_S:,} answers/s on 2 cores: {met} "
        f"({rate:,.0f}/s on {workers} core(s) here)",
    ]
    return lines


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def grade_corpus(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Verdict]]:
    """Each labelled row with the verdict the answer grader gives it."""
    graded = []
    for i, row in enumerate(rows):
        task = Task(f"corpus-{i}", "math", prompt="?", reference=row["reference"])
        verdict = answer.grade(task, _sample(task.id, 0, row["answer"]), row.get("options", {}))
        graded.append((row, verdict))
    return graded


def corpus_figures(path: Path = CORPUS) -> list[str]:
    graded = grade_corpus(load_corpus(path))
    lines = [f"corpus: {path.name}, {len(graded)} labelled pairs"]
    for category in ["all", *sorted({row["category"] for row, _ in graded})]:
        rows = [(r, v) for r, v in graded if category in ("all", r["category"])]
        false_pass = [r for r, v in rows if v.status == "pass" and r["expected"] != "pass"]
        false_fail = [r for r, v in rows if v.status != "pass" and r["expected"] == "pass"]
        right = len(rows) - len(false_pass) - len(false_fail)
        lines.append(
            f"  {category:7s} {len(rows):4d} pairs: accuracy {right / len(rows):.1%}, "
            f"false passes {len(false_pass)}, false fails {len(false_fail)}"
        )
        if category == "all":
            for row in false_pass + false_fail:
                lines.append(f"    wrong verdict [{row['class']}]: {row['answer'][:70]!r}")
    return lines


if __name__ == "__main__":
    for line in corpus_figures():
        print(line)
    for line in answer_figures(int(sys.argv[1]) if len(sys.argv) > 1 else 20000):
        print(line)

"""Dollars per accepted training sample: fixed-n sampling against distill's levers (issue 14).

One fixed, simulated task mix (easy, medium and hopeless math tasks: the simulator answers each
right with the task's own probability, `meta.sim_p_correct`), a ~1,500-token shared prompt (a
few-shot system prompt and the problem), ~2,000-token reasoning, and an Anthropic-priced teacher
(claude-sonnet-4: $3 / $15 per million in / out, cache reads $0.30, cache writes $3.75, batch
half price). Each scenario runs here, in this process, on a fresh simulator, cache and output
folder: the real harvest (`harvest_stage`, adaptive waves graded by the real answer grader as
they arrive) and the real grade stage. Figures come from what the harvest recorded (usage and
cost per sample, the simulator's request counts), not from a model of it.

- fixed: `samples_per_task = N`, synchronous, no prompt-cache markers (distill before issue 14).
- adaptive: `accept_per_task = K`, `max_samples_per_task = N_ADAPTIVE`, give up after M fails
  in a row; synchronous, no cache markers.
- adaptive + cache: the same with `prompt_cache = true` (cache_control on the shared prefix).
- adaptive + batch + cache: the same through the Message Batches API (`mode = "batch"`,
  `--wait`), which is distill's nightly setting.

"Accepted" is what a training set of K answers per task keeps: passing answers, at most K per
task (passes beyond K are printed too; they are near-repeats a dataset of K per task throws
away). The last line is `ratio X.XX`: $ per accepted sample, adaptive + batch + cache over
fixed. Goal: <= 0.6 with at least as many tasks accepted.

Usage: python bench/cost.py [--quick] [--tasks 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.config import load_config
from distill.grade import run_grade
from distill.pipeline import harvest_stage
from distill.sim import SimConfig, running_sim

K, N_FIXED, N_ADAPTIVE = 2, 4, 6
# Giving up only after N_FIXED fails in a row keeps every task fixed-n accepts: its first pass is
# within N_FIXED samples, which adaptive reaches (answers depend on the sample index alone).
M = N_FIXED
MIX = (("easy", 0.85, 0.4), ("medium", 0.35, 0.4), ("hopeless", 0.0, 0.2))  # name, p, share
REASONING_TOKENS = 2000
FEW_SHOT_EXAMPLES = 20  # ~1,400 tokens of worked examples before the problem

SCENARIOS = {
    "fixed": f"samples_per_task = {N_FIXED}\nprompt_cache = false",
    "adaptive": (
        f"accept_per_task = {K}\nmax_samples_per_task = {N_ADAPTIVE}\n"
        f"max_consecutive_fails = {M}\nprompt_cache = false"
    ),
    "adaptive + cache": (
        f"accept_per_task = {K}\nmax_samples_per_task = {N_ADAPTIVE}\n"
        f"max_consecutive_fails = {M}\nprompt_cache = true"
    ),
    "adaptive + batch + cache": (
        f"accept_per_task = {K}\nmax_samples_per_task = {N_ADAPTIVE}\n"
        f'max_consecutive_fails = {M}\nprompt_cache = true\nmode = "batch"'
    ),
}


def few_shot(rng: random.Random) -> str:
    lines = ["You solve competition math problems. Think step by step, then give the final "
             "answer in \\boxed{}. Worked examples follow."]  # fmt: skip
    for i in range(FEW_SHOT_EXAMPLES):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        lines.append(
            f"Example {i + 1}. A crate holds {a} boxes and each box holds {b} marbles; how many "
            f"marbles are in the crate, and what is that number modulo 7? Multiply the boxes "
            f"by the marbles per box: {a} x {b} = {a * b}. Dividing by 7 leaves "
            f"{(a * b) % 7}. The crate holds {a * b} marbles. Answer: \\boxed{{{a * b}}}."
        )
    return "\n\n".join(lines)


def pick_class(roll: float) -> tuple[str, float]:
    """The difficulty class (and its pass probability) a uniform `roll` falls in."""
    for name, p, share in MIX:
        if roll < share:
            return name, p
        roll -= share
    return MIX[-1][0], MIX[-1][1]


def write_tasks(path: Path, count: int, seed: int) -> dict[str, str]:
    """The task mix; each task's difficulty class by id."""
    rng = random.Random(seed)
    system = few_shot(rng)
    classes: dict[str, str] = {}
    with path.open("w") as handle:
        for i in range(count):
            name, p = pick_class(rng.random())
            a, b = rng.randint(100, 999), rng.randint(100, 999)
            task_id = f"{name}-{i}"
            classes[task_id] = name
            row = {
                "id": task_id, "kind": "math",
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": f"Problem {i}: what is {a} + {b}? Give the "
                                                "final answer in \\boxed{}."},
                ],
                "reference": {"answer": str(a + b)},
                "meta": {"sim_p_correct": p},
            }  # fmt: skip
            handle.write(json.dumps(row) + "\n")
    return classes


def write_config(root: Path, tasks: Path, url: str, teacher: str) -> Path:
    path = root / "distill.toml"
    path.write_text(f"""
name = "cost"
tasks = ["{tasks}"]
output_dir = "{root}/out"
cache_dir = "{root}/cache"
[harvest]
max_attempts = 4
backoff_initial_s = 0.01
backoff_max_s = 0.1
wait = true
batch_poll_s = 0.05
[teachers.claude]
provider = "anthropic"
model = "claude-sonnet-4-5"
base_url = "{url.removesuffix("/v1")}"
max_tokens = 8192
thinking_budget = 6000
{teacher}
[teachers.claude.limits]
max_in_flight = 64
""")
    return path


@dataclass
class Figures:
    requests: int
    prompt_tokens: int
    cache_hit_tokens: int
    completion_tokens: int
    usd: float
    passes: int
    accepted: int  # at most K per task
    tasks_accepted: int
    seconds: float

    @property
    def per_accepted(self) -> float:
        return self.usd / self.accepted if self.accepted else float("inf")


def run_scenario(root: Path, tasks: Path, teacher: str, seed: int) -> Figures:
    sim = SimConfig(seed=seed, task_files=(str(tasks),), reasoning_tokens=REASONING_TOKENS,
                    batch_delay_s=0.0)  # fmt: skip
    with running_sim(sim) as url:
        config = load_config(write_config(root, tasks, url, teacher))
        began = time.perf_counter()
        harvest = harvest_stage(config)
        run_grade(config)
        seconds = time.perf_counter() - began
        served = sim_counts(url)
    passes: dict[str, int] = defaultdict(int)
    usd = 0.0
    for line in (config.out / "graded.jsonl").read_text().splitlines():
        row = json.loads(line)
        usd += row["cost_usd"]
        passes[row["task_id"]] += row["verdict"]["status"] == "pass"
    s = harvest.stats
    return Figures(
        requests=served, prompt_tokens=s.prompt_tokens, cache_hit_tokens=s.cache_hit_tokens,
        completion_tokens=s.completion_tokens, usd=usd, passes=sum(passes.values()),
        accepted=sum(min(n, K) for n in passes.values()),
        tasks_accepted=sum(1 for n in passes.values() if n), seconds=seconds,
    )  # fmt: skip


def sim_counts(url: str) -> int:
    """Requests the simulator answered: synchronous ones and batch items."""
    import urllib.request

    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
        stats: dict[str, Any] = json.load(response)
    return int(stats.get("ok_answers", 0))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="120 tasks (about a minute)")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    count = 120 if args.quick else args.tasks
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="distill-cost-") as tmp:
        tasks = Path(tmp) / "tasks.jsonl"
        classes = write_tasks(tasks, count, args.seed)
        mix = ", ".join(f"{n} {sum(1 for c in classes.values() if c == n)} (p={p:g})"
                        for n, p, _ in MIX)  # fmt: skip
        print(
            f"{count} math tasks: {mix}; K={K} accepted wanted per task; fixed n={N_FIXED}; "
            f"adaptive n<={N_ADAPTIVE}, give up after {M} fails in a row"
        )
        header = (f"{'scenario':<26}{'requests':>9}{'prompt tok':>12}{'cache hits':>12}"
                  f"{'output tok':>12}{'$ total':>10}{'passes':>8}{'accepted':>9}"
                  f"{'tasks ok':>9}{'$/accepted':>12}{'s':>6}")  # fmt: skip
        print(header)
        results: dict[str, Figures] = {}
        for name, teacher in SCENARIOS.items():
            root = Path(tmp) / name.replace(" ", "").replace("+", "-")
            root.mkdir()
            f = results[name] = run_scenario(root, tasks, teacher, args.seed)
            print(f"{name:<26}{f.requests:>9,}{f.prompt_tokens:>12,}{f.cache_hit_tokens:>12,}"
                  f"{f.completion_tokens:>12,}{f.usd:>10.3f}{f.passes:>8}{f.accepted:>9}"
                  f"{f.tasks_accepted:>9}{f.per_accepted:>12.5f}{f.seconds:>6.1f}")  # fmt: skip
        fixed, best = results["fixed"], results["adaptive + batch + cache"]
        for name, f in results.items():
            if name != "fixed":
                print(f"  {name}: $/accepted {f.per_accepted / fixed.per_accepted:.2f}x fixed")
        per_pass = (best.usd / best.passes) / (fixed.usd / fixed.passes)
        print(f"$ per pass, every pass counted (no cap of {K} a task): {per_pass:.2f}x fixed")
        ratio = best.per_accepted / fixed.per_accepted
        tasks_ok = best.tasks_accepted >= fixed.tasks_accepted
        verdict = "met" if ratio <= 0.6 and tasks_ok else "NOT met"
        print(
            f"accepted tasks: fixed {fixed.tasks_accepted}, adaptive+batch+cache "
            f"{best.tasks_accepted}; goal (ratio <= 0.6, tasks >=) {verdict}"
        )
        print(f"ratio {ratio:.2f}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

"""Export figures (issue 5): 200,000 graded samples → `messages` splits, in one run.

The benchmark writes a graded file (50,000 tasks × 4 samples; about 70 % pass, reasoning of a few
hundred words, 1 in 50 prompts a near-copy of another), then times two programs on it, each in a
fresh process that reports its own peak RSS:

- distill: `distill export --format messages --correct-only --deduplicate --val-fraction 0.05`
  (two streaming passes; the second seeks back to the chosen lines);
- baseline: the usual script: `pandas.read_json(lines=True)` of the whole file, filter to
  passing rows, build the rows, `to_json` (no dedup or split, so it does less work).

Prints wall time, peak memory, the input size, and the ratios. Goal: distill ≤ 30 s and peak
memory well under the input file's size.

Usage: python bench/export.py [--samples 200000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "value", "prime", "sum", "graph", "edge", "count", "string", "array", "modulo", "tree",
    "answer", "check", "case", "loop", "index", "range", "binary", "search", "digit", "root",
)  # fmt: skip

DISTILL = """
import resource, sys
from distill.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""

BASELINE = """
import json, resource, sys
import pandas as pd
frame = pd.read_json(sys.argv[1], lines=True)
frame = frame[frame["verdict"].map(lambda v: v["status"] == "pass")]
frame = frame[frame["finish_reason"] != "length"]
rows = pd.DataFrame({"messages": [
    [*m, {"role": "assistant", "content": f"<think>\\n{r}\\n</think>\\n\\n{c}"}]
    for m, r, c in zip(frame["messages"], frame["reasoning"], frame["content"])
]})
rows.to_json(sys.argv[2], orient="records", lines=True, force_ascii=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def make_input(path: Path, samples: int, rng: random.Random) -> None:
    tasks = samples // 4
    with path.open("w") as out:
        for t in range(tasks):
            base = t - 1 if t % 50 == 49 else t  # a near-copy of the previous prompt
            words = random.Random(base).choices(WORDS, k=40)
            prompt = f"Task {base}: " + " ".join(words) + (" please" if base != t else "")
            for i in range(4):
                status = "pass" if rng.random() < 0.7 else "fail"
                reasoning = " ".join(rng.choices(WORDS, k=rng.randint(150, 450)))
                row = {
                    "task_id": f"task-{t}", "sample_index": i, "teacher": "r1",
                    "request_key": f"{t:08x}{i}", "status": "ok", "model": "deepseek-reasoner",
                    "messages": [{"role": "user", "content": prompt}],
                    "reasoning": reasoning, "reasoning_kind": "raw",
                    "content": f"The answer is {rng.randint(0, 10**6)}.",
                    "finish_reason": "length" if rng.random() < 0.01 else "stop",
                    "usage": {"prompt_tokens": 60, "completion_tokens": 400},
                    "verdict": {"grader": "answer", "grader_version": "2", "status": status,
                                "score": float(status == "pass"), "reason": "r", "details": {}},
                }  # fmt: skip
                out.write(json.dumps(row) + "\n")


def timed(args: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args[:4])}…\n{done.stderr}")
    return wall, int(done.stderr.strip().splitlines()[-1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--keep", help="write the files here instead of a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        graded = work / "graded.jsonl"
        started = time.perf_counter()
        make_input(graded, args.samples, random.Random(0))
        size = graded.stat().st_size
        print(f"input: {args.samples:,} graded samples, {size / 2**20:,.0f} MiB "
              f"(generated in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        out = work / "distill"
        flags = ["export", "--input", str(graded), "--output-dir", str(out), "--format",
                 "messages", "--correct-only", "--deduplicate", "--val-fraction", "0.05",
                 "--quiet"]  # fmt: skip
        d_wall, d_mem = timed([sys.executable, "-c", DISTILL, *flags])
        b_wall, b_mem = timed([sys.executable, "-c", BASELINE, str(graded), str(work / "b.jsonl")])
        manifest = json.loads((out / "manifest.json").read_text())
        train = manifest["outputs"]["train.jsonl"]["rows"]
        val = manifest["outputs"]["val.jsonl"]["rows"]
        print(f"distill export : {d_wall:6.1f} s, peak {d_mem / 2**20:6.0f} MiB "
              f"({d_mem / size:.0%} of the input); {train:,} train + {val:,} val rows, "
              f"dropped {manifest['dropped']}")  # fmt: skip
        print(f"pandas baseline: {b_wall:6.1f} s, peak {b_mem / 2**20:6.0f} MiB "
              f"({b_mem / size:.0%} of the input); filter and format only")  # fmt: skip
        print(f"ratio: distill takes {d_wall / b_wall:.2f}x the baseline's time and "
              f"{d_mem / b_mem:.2f}x its memory")  # fmt: skip
        verdict = "met" if d_wall <= 30 and d_mem < size / 2 else "NOT met"
        print(f"goal (<= 30 s, peak well under the input size): {verdict}")


if __name__ == "__main__":
    main()

"""An output directory for the status/report tests: a real `distill run` against the teacher
simulator (two priced teachers, some requests failing), plus a synthetic history of earlier
nights before the real run's own history line."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factories import read_jsonl, run_cli, teacher_toml, write_config

from distill.sim import SimConfig, running_sim

KINDS = ("math", "code", "merge", "chat")
TEACHERS = ("r1", "mini")
PRICE = {"r1": (0.55, 2.19), "mini": (0.15, 0.6)}  # USD per million tokens in, out
FATAL_ERROR = "teacher 'r1' refused the key (401): check DEEPSEEK_API_KEY"


@dataclass(frozen=True)
class Built:
    config: Path
    out: Path
    cache: Path
    history: list[dict[str, Any]]  # oldest first; the last one is the real run's


def _teachers(base_url: str) -> str:
    return "\n".join(
        teacher_toml(
            base_url,
            name=name,
            model=f"sim-{name}",
            extra=f"price = {{ input = {PRICE[name][0]}, output = {PRICE[name][1]} }}",
        )
        for name in TEACHERS
    )


def build_output(directory: Path) -> Built:
    directory.mkdir(parents=True, exist_ok=True)
    sim = SimConfig(seed=11, p_correct=0.7, latency="lognormal:0.03,0.6", fault_5xx=0.08,
                    fault_malformed=0.05)  # fmt: skip
    with running_sim(sim) as url:
        config = write_config(directory, url, kinds=KINDS, teacher=_teachers(url))
        result = run_cli("run", "-c", str(config), "--quiet", "--set", "harvest.max_attempts=1")
    # Some requests fail for good (max_attempts 1): the run is partial, exit 1.
    assert result.returncode == 1, result.stderr
    out = directory / "out"
    real = read_jsonl(out / "history.jsonl")
    assert len(real) == 1
    history = [*synthetic_nights(real[0]), real[0]]
    (out / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    return Built(config, out, directory / "cache", history)


def synthetic_nights(real: dict[str, Any], nights: int = 5) -> list[dict[str, Any]]:
    """`nights` earlier runs, one a day before the real one, in the history.jsonl schema; the
    third is a teacher_fatal night that failed before any stage finished."""
    start = time.mktime(time.strptime(real["started_at"], "%Y-%m-%dT%H:%M:%SZ"))
    rows = []
    for i in range(nights):
        began = start - (nights - i) * 86400
        run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(began)) + f"-00000{i}"
        row: dict[str, Any] = {
            "schema_version": 1,
            "run_id": run_id,
            "config": real["config"],
            "name": real["name"],
            "started_at": _iso(began),
            "finished_at": _iso(began + 60 + 10 * i),
            "exit_code": 0,
            "outcome": "ok",
            "error": None,
        }
        if i == 2:
            row.update(exit_code=3, outcome="teacher_fatal", error=FATAL_ERROR, stages={},
                       spend_usd=0.0)  # fmt: skip
        else:
            spend = round(0.05 + 0.03 * i, 4)
            row["stages"] = {
                "harvest": {"seconds": 40.0, "planned": 152, "cached": 100, "sent": 52,
                            "ok": 50, "errors": 2, "errors_by_kind": {"timeout": 2},
                            "retries": 3, "rate_limited": 1, "prompt_tokens": 9000,
                            "completion_tokens": 26000, "cost_usd": spend},
                "grade": {"seconds": 12.0, "total": 150, "cached": 100,
                          "by_status": {"pass": 100 + i, "fail": 50 - i}},
            }  # fmt: skip
            row["pass_rates"] = {
                "teacher": {"r1": 0.6 + 0.03 * i, "mini": 0.5 + 0.02 * i},
                "kind": {k: 0.4 + 0.05 * i + 0.1 * j for j, k in enumerate(KINDS)},
                "grader": {"answer": 0.55 + 0.02 * i},
            }
            row["spend_usd"] = spend
            if i == 4:
                row.update(exit_code=1, outcome="partial")
        rows.append(row)
    return rows


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

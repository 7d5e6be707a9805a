"""Grading on Ray (`grade.executor = "ray"`): the same verdicts as the process pool, byte for byte,
on the demo's example tasks (code, math, merge, chat); a worker killed mid-task costs a retry,
never a lost or doubled verdict; a missing extra and an unreachable cluster are one-line errors.

One local Ray for the module (2 CPUs, no dashboard, a small object store, its files in a temp
dir); run_grade uses the connection this process holds. The verdicts' `time_s` (how long a
grader took) differs between any two runs, pool or Ray, and is the one thing set aside.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from factories import ROOT, make_sample, make_task, read_jsonl, run_cli, write_config, write_jsonl

from distill.config import load_config
from distill.errors import ConfigError
from distill.grade import math_equiv, ray_executor
from distill.grade.registry import GRADERS, GradeFn
from distill.grade.runner import run_grade
from distill.harvest import run_harvest
from distill.records import Sample, Task, Verdict
from distill.sim import SimConfig, running_sim

try:
    import ray
except ImportError:  # the [ray] extra; scripts/test.sh installs it
    ray = None

needs_ray = pytest.mark.skipif(
    ray is None, reason="ray is not installed: pip install 'distill[ray]' (scripts/test.sh does)"
)
DEMO = ROOT / "configs" / "demo.toml"
TIME = re.compile(rb'"time_s": ?[-+0-9.eE]+')


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    if ray is None:
        pytest.skip("ray is not installed: pip install 'distill[ray]' (scripts/test.sh does)")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=80 * 1024**2,
        _temp_dir=temp,
        logging_level=logging.ERROR,
    )
    # The test's own graders (crash_once) reach the workers by value, not by module name.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_math_worker_left() -> Iterator[None]:
    yield
    math_equiv.shutdown()  # the math-verify worker this process started, if any


@pytest.fixture(scope="module")
def demo_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """samples.jsonl of configs/demo.toml (every bundled example task, 4 answers each)."""
    out = tmp_path_factory.mktemp("demo")
    with running_sim(SimConfig(seed=7, p_correct=0.7)) as url:
        config = load_config(DEMO, [f'teachers.sim.base_url="{url}"', *_dirs(out)])
        run_harvest(config)
    return out / "out" / "samples.jsonl"


@pytest.fixture(scope="module")
def pool_graded(demo_samples: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    graded = _grade_demo(tmp_path_factory.mktemp("pool"), demo_samples, "process")
    rows = read_jsonl(graded)
    statuses = {(r["verdict"]["grader"], r["verdict"]["status"]) for r in rows}
    for grader in ("code", "answer", "merge"):  # both outcomes of each: a comparison that tells
        assert {(grader, "pass"), (grader, "fail")} <= statuses, statuses
    assert not [r for r in rows if r["verdict"]["status"] == "error"]
    return graded.read_bytes()


def _dirs(directory: Path) -> list[str]:
    return [f'output_dir="{directory / "out"}"', f'cache_dir="{directory / "cache"}"']


def _grade_demo(directory: Path, samples: Path, executor: str) -> Path:
    (directory / "out").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(samples, directory / "out" / "samples.jsonl")
    overrides = [*_dirs(directory), "grade.workers=2", f'grade.executor="{executor}"']
    result = run_grade(load_config(DEMO, overrides))
    assert result.cached == 0
    return result.graded_path


def _timeless(graded: bytes) -> bytes:
    return TIME.sub(b'"time_s": 0', graded)


def crash_once(marker: Path, real: GradeFn, task: Task, sample: Sample, opts: Any) -> Verdict:
    """The real grader, except that the first call anywhere kills its worker process outright."""
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return real(task, sample, opts)


def kill_on(
    target: tuple[str, int], real: GradeFn, task: Task, sample: Sample, opts: Any
) -> Verdict:
    """The real grader, except that one answer kills its worker process every time."""
    if (sample.task_id, sample.sample_index) == target:
        os._exit(1)
    return real(task, sample, opts)


def _with_code_grader(monkeypatch: pytest.MonkeyPatch, wrapper: Any, first: Any) -> None:
    real = GRADERS["code"]
    monkeypatch.setitem(
        GRADERS, "code", replace(real, fn=functools.partial(wrapper, first, real.fn))
    )


@needs_ray
def test_ray_verdicts_are_the_pools_byte_for_byte(
    local_ray: None,
    demo_samples: Path,
    pool_graded: bytes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="distill.grade.ray_executor"):
        graded = _grade_demo(tmp_path, demo_samples, "ray").read_bytes()
    assert "on Ray: 2 CPUs" in caplog.text  # graded by Ray tasks, not by a fallback
    assert graded.count(b"\n") == pool_graded.count(b"\n") == len(read_jsonl(demo_samples))
    assert TIME.search(graded)  # the one field set aside is really there
    assert _timeless(graded) == _timeless(pool_graded)


@needs_ray
def test_a_worker_killed_mid_task_is_retried_and_no_verdict_is_lost_or_doubled(
    local_ray: None,
    demo_samples: Path,
    pool_graded: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "crashed"
    _with_code_grader(monkeypatch, crash_once, marker)
    graded = _grade_demo(tmp_path, demo_samples, "ray")
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a Ray worker died
    rows = read_jsonl(graded)
    assert len({(r["task_id"], r["sample_index"]) for r in rows}) == len(rows)
    assert _timeless(graded.read_bytes()) == _timeless(pool_graded)


@needs_ray
def test_a_chunk_that_kills_every_worker_gets_error_verdicts_that_are_graded_again(
    local_ray: None,
    demo_samples: Path,
    pool_graded: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patch:
        _with_code_grader(patch, kill_on, ("code-001", 0))
        graded = _grade_demo(tmp_path, demo_samples, "ray")
    rows, pool_rows = read_jsonl(graded), [json.loads(line) for line in pool_graded.splitlines()]
    assert len(rows) == len(pool_rows)
    lost = [i for i, r in enumerate(rows) if r["verdict"]["reason"] == "worker_lost"]
    killer = next(
        i for i, r in enumerate(rows) if (r["task_id"], r["sample_index"]) == ("code-001", 0)
    )
    assert killer in lost and len(lost) <= ray_executor.CHUNK  # its chunk, past its retries
    assert {rows[i]["verdict"]["status"] for i in lost} == {"error"}
    for i, (row, pool_row) in enumerate(zip(rows, pool_rows, strict=True)):
        if i not in lost:
            row["verdict"]["details"].pop("time_s", None)
            pool_row["verdict"]["details"].pop("time_s", None)
            assert row == pool_row

    # `error` verdicts are not cached: the next run grades them (and only them) again.
    result = run_grade(load_config(DEMO, [*_dirs(tmp_path), 'grade.executor="ray"']))
    assert result.total - result.cached == len(lost)
    assert _timeless(result.graded_path.read_bytes()) == _timeless(pool_graded)


# --- errors and the CLI: a small task set, graded in subprocesses -------------------------------


def _tiny(directory: Path) -> Path:
    """One math task with a right and a wrong answer; the config."""
    tasks = write_jsonl(directory / "tasks.jsonl", [make_task("math", {"answer": "12"})])
    write_jsonl(
        directory / "out" / "samples.jsonl",
        [
            make_sample(r"So \boxed{12}.", task_id="math-1"),
            make_sample(r"So \boxed{13}.", task_id="math-1", index=1),
        ],
    )
    return write_config(directory, "http://127.0.0.1:9/v1", tasks=[tasks])


def _no_ray_shim(directory: Path) -> dict[str, str]:
    """PYTHONPATH that makes `import ray` fail, as where the extra is not installed."""
    (directory / "shim" / "ray").mkdir(parents=True)
    (directory / "shim" / "ray" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'ray' (hidden by the test shim)\")\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(directory / "shim"), str(ROOT)])}


def test_without_the_extra_ray_is_a_one_line_error_and_the_pool_never_imports_it(
    tmp_path: Path,
) -> None:
    config = _tiny(tmp_path)
    env = _no_ray_shim(tmp_path)
    done = run_cli("grade", "-c", str(config), "--executor", "ray", env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'distill[ray]'" in lines[0], done.stderr
    assert not (tmp_path / "out" / "graded.jsonl").exists()

    done = run_cli("grade", "-c", str(config), env=env)  # the process pool: ray is never imported
    assert done.returncode == 0, done.stderr
    assert [r["verdict"]["status"] for r in read_jsonl(tmp_path / "out" / "graded.jsonl")] == [
        "pass",
        "fail",
    ]


@needs_ray
def test_an_unreachable_ray_address_is_a_one_line_error(tmp_path: Path) -> None:
    config = _tiny(tmp_path)
    for address in ("127.0.0.1:1", "ray://127.0.0.1:1"):
        done = run_cli("grade", "-c", str(config), "--executor", "ray", "--ray-address", address)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert f"grade.ray_address = '{address}'" in lines[0] and "ray start --head" in lines[0]


@needs_ray
def test_the_cli_starts_a_local_ray_for_the_run_and_grades_as_the_pool_does(
    tmp_path: Path,
) -> None:
    pool_dir, ray_dir = tmp_path / "pool", tmp_path / "ray"
    graded = []
    for directory, executor in ((pool_dir, "process"), (ray_dir, "ray")):
        config = _tiny(directory)
        temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # where the run's Ray keeps its files
        try:
            done = run_cli(
                "grade", "-c", str(config), "--executor", executor, "--set", "grade.workers=1",
                env={"RAY_TMPDIR": temp},
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert bool(os.listdir(temp)) == (executor == "ray")  # only asked for, Ray started
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        graded.append(_timeless((directory / "out" / "graded.jsonl").read_bytes()))
    assert graded[0] == graded[1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('grade.executor="dask"', "grade.executor must be one of process, ray"),
        ('grade.ray_address="head"', "grade.ray_address = 'head': use auto, HOST:PORT"),
        ("grade.workers=-1", "grade.workers must be >= 0"),
    ],
)
def test_bad_grade_settings_are_one_line_errors(
    tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(_tiny(tmp_path), [override])
    assert "\n" not in str(caught.value)

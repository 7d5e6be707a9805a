"""Harvest figures, all in one run against teacher simulators on 127.0.0.1 (issue 3).

1. Throughput, per transport (httpx2, aiohttp): N requests, 0.2 s simulated latency, no limit;
   requests/s for distill and for a bare asyncio loop in this process over the same transport
   (the openai SDK's post, the call distill makes), the ratio, and the whole-process wall time
   of `distill harvest` for 500, each against its goal (>= 1,000 req/s, >= 0.8x, <= 2 s).
1b. 10,000 requests in flight at 30 s latency (--quick: 2,000 at 5 s): the client's peak RSS,
   and that every request is answered once (none timed out early or retried).
2. Rate limit: the simulator enforcing 1,200 requests/min and a tokens/min limit; distill set to
   the same limits; the share of the allowed rate it keeps over the run, and the 429s it gets.
3. Cache: re-running 100,000 already-harvested requests: wall time and requests sent.
4. Faults: 20 % 5xx, 5 % malformed bodies, 5 % dropped connections, 2 % stalls: share of
   samples ending ok, and request keys answered twice.
5. Kill and resume: SIGKILL at random moments of one harvest, then a last run to the end: the
   samples file against an uninterrupted run's, and the extra requests paid per kill.

Usage: python bench/harvest.py [--quick]   (--quick: smaller sizes and a 20 s rate window)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx2
import openai

from distill.config import load_config
from distill.harvest import event_loop, run_harvest
from distill.harvest.cache import SampleCache
from distill.harvest.plan import build_plan
from distill.prompts import PromptLibrary, PromptRenderer
from distill.sim import sim_process
from distill.tasks import load_tasks


def write_tasks(path: Path, count: int, tag: str) -> Path:
    with path.open("w") as handle:
        for i in range(count):
            row = {
                "schema_version": 1,
                "id": f"{tag}-{i}",
                "kind": "chat",
                "prompt": f"[{tag}] Explain item number {i} in one sentence.",
            }
            handle.write(json.dumps(row) + "\n")
    return path


def write_config(
    root: Path, tasks: Path, url: str, teacher_extra: str = "", timeout_s: float = 60, **limits: int
) -> Path:
    limit_lines = "\n".join(f"{k} = {v}" for k, v in limits.items())
    path = root / "distill.toml"
    path.write_text(
        f"""
name = "bench"
tasks = ["{tasks}"]
output_dir = "out"
cache_dir = "cache"
[harvest]
max_attempts = 10
backoff_initial_s = 0.05
backoff_max_s = 2
[teachers.sim]
provider = "openai_compat"
model = "sim-r1"
base_url = "{url}"
timeout_s = {timeout_s}
{teacher_extra}
[teachers.sim.limits]
{limit_lines}
"""
    )
    return path


def stats(url: str, reset: bool = False) -> dict[str, Any]:
    root = url.removesuffix("/v1")
    request = urllib.request.Request(
        f"{root}/stats{'/reset' if reset else ''}", method="POST" if reset else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, Any] = json.load(response)
    return data


TRANSPORTS = ("httpx", "aiohttp")
GOAL_REQ_S, GOAL_RATIO, GOAL_500_S = 1000.0, 0.8, 2.0


def http_client(transport: str, concurrency: int) -> httpx2.AsyncClient:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if transport == "aiohttp":
        return openai.DefaultAioHttpClient(limits=limits, timeout=httpx2.Timeout(None))
    return httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(None))


async def minimal_loop(url: str, prompts: list[str], concurrency: int, transport: str) -> float:
    """A bare worker loop over the SDK's post, the call distill makes: JSON in, JSON out; no
    limits, cache, retries or output file. One pool (distill's httpx2 pools are sharded)."""
    http = http_client(transport, concurrency)
    sdk = openai.AsyncOpenAI(api_key="x", base_url=url, max_retries=0, http_client=http)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for prompt in prompts:
        queue.put_nowait(prompt)

    async def worker() -> None:
        while not queue.empty():
            prompt = queue.get_nowait()
            body = {
                "model": "sim-r1",
                "max_tokens": 4096,
                "messages": [{"role": "user", "content": prompt}],
            }
            response = await sdk.post("/chat/completions", body=body, cast_to=httpx2.Response)
            json.loads(response.content)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await http.aclose()
    return elapsed


def distill_cli(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "distill", "harvest", "-c", str(config), "--quiet", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def goal(what: str, met: bool) -> str:
    return f"   goal {what}: {'met' if met else 'NOT met'}"


def throughput(tmp: Path, n: int, concurrency: int) -> None:
    print(f"1. throughput, {n} requests, 0.2 s latency, {concurrency} in flight, per transport"
          f" (event loop: {event_loop.loop_name()})")  # fmt: skip
    with sim_process("--latency", "0.2") as url:
        for transport in TRANSPORTS:
            extra = f'transport = "{transport}"'
            root = tmp / f"throughput-{transport}"
            root.mkdir()
            tasks = write_tasks(root / "tasks.jsonl", n, f"distill-{transport}")
            config = load_config(write_config(root, tasks, url, extra, max_in_flight=concurrency))
            started = time.perf_counter()
            result = run_harvest(config)
            ours = time.perf_counter() - started
            assert result.stats.ok == n, result.stats.to_dict()
            prompts = [f"[bare-{transport}] {i}" for i in range(n)]
            bare = event_loop.run(minimal_loop(url, prompts, concurrency, transport))

            small = tmp / f"process-{transport}"
            small.mkdir()
            small_tasks = write_tasks(small / "tasks.jsonl", 500, f"process-{transport}")
            small_config = write_config(small, small_tasks, url, extra, max_in_flight=concurrency)
            started = time.perf_counter()
            assert distill_cli(small_config).wait() == 0
            process_s = time.perf_counter() - started
            rate, ratio = n / ours, bare / ours
            print(f"   [{transport}]")
            print(f"   distill harvest (run_harvest)        {rate:7.0f} req/s  ({ours:.2f} s)")
            print(f"   bare loop, SDK post, same transport  {n / bare:7.0f} req/s  ({bare:.2f} s)")
            print(f"   ratio distill / bare loop                {ratio:.2f}x")
            print(f"   whole `distill harvest` process, 500 requests: {process_s:.2f} s")
            print(goal(f">= {GOAL_REQ_S:,.0f} req/s", rate >= GOAL_REQ_S))
            print(goal(f">= {GOAL_RATIO}x the bare loop", ratio >= GOAL_RATIO))
            print(goal(f"500 requests <= {GOAL_500_S:g} s", process_s <= GOAL_500_S))


def raise_open_files() -> int:
    """10,000 connections need 10,000 descriptors on each side: soft limit up to the hard one
    (the simulator, started after this, inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def many_in_flight(tmp: Path, n: int, latency_s: float, transport: str) -> None:
    """n requests in flight at once on a slow teacher: the client's peak memory, and that none
    times out or is retried (every request answered once, in about latency + ramp)."""
    root = tmp / f"in-flight-{transport}"
    root.mkdir()
    tasks = write_tasks(root / "tasks.jsonl", n, f"wide-{transport}")
    with sim_process("--latency", f"{latency_s:g}") as url:
        config = write_config(
            root,
            tasks,
            url,
            f'transport = "{transport}"',
            timeout_s=latency_s * 4,
            max_in_flight=n,
        )
        started = time.perf_counter()
        process = distill_cli(config)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        seen = stats(url)
    rows = [json.loads(line) for line in (root / "out" / "samples.jsonl").read_text().splitlines()]
    ok = sum(r["status"] == "ok" for r in rows)
    rss_mib = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(
        f"   [{transport}] {n:,} in flight at {latency_s:g} s latency: exit {process.returncode}, "
        f"{ok:,}/{n:,} ok, {seen['requests'] - n} retried, peak in flight at the sim "
        f"{seen['max_in_flight']:,}, {elapsed:.1f} s in all, client peak RSS {rss_mib:.0f} MiB"
    )
    met = ok == n and seen["requests"] == n
    print(goal("every request ok, none retried", met))


def rate_limit(tmp: Path, seconds: int) -> None:
    rpm, tpm = 1200, 1_000_000
    n = rpm * seconds // 60
    root = tmp / "rate"
    root.mkdir()
    tasks = write_tasks(root / "tasks.jsonl", n, "rate")
    with sim_process("--latency", "0.2", "--rpm", str(rpm), "--tpm", str(tpm)) as url:
        config = load_config(
            write_config(root, tasks, url, "max_tokens = 1024", rpm=rpm, tpm=tpm, max_in_flight=64)
        )
        started = time.perf_counter()
        result = run_harvest(config)
        elapsed = time.perf_counter() - started
        seen = stats(url)
    # The bucket starts full (one second's worth), so the allowed count over the run is that
    # burst plus the rate for the rest of it.
    allowed = rpm / 60 * (elapsed - 0.2) + rpm / 60
    print(
        f"2. rate limit: simulator and distill at {rpm} requests/min and {tpm:,} tokens/min "
        f"(max_tokens 1024: the TPM limit would bind without usage correction)"
    )
    print(
        f"   {result.stats.ok} ok in {elapsed:.1f} s: {result.stats.ok / allowed:.1%} of the "
        f"allowed rate; 429s: {seen['rate_limited']}"
    )


def cache_rerun(tmp: Path, n: int) -> None:
    root = tmp / "cache"
    root.mkdir()
    tasks = write_tasks(root / "tasks.jsonl", n, "cache")
    config = load_config(write_config(root, tasks, "http://127.0.0.1:9/v1", max_in_flight=64))
    renderer = PromptRenderer(PromptLibrary.load(), config.prompts)
    plan = build_plan(config, load_tasks(config), renderer)
    cache = SampleCache(config.cache / "harvest")
    for request in plan:  # the state a finished harvest of these requests leaves behind
        cache.put(
            request.key,
            {
                "schema_version": 1,
                "task_id": request.task_id,
                "sample_index": 0,
                "teacher": "sim",
                "request_key": request.key,
                "messages": request.messages,
                "status": "ok",
                "model": "sim-r1",
                "reasoning": "r " * 100,
                "reasoning_kind": "raw",
                "content": "answer " * 50,
                "finish_reason": "stop",
                "usage": {},
                "error": None,
            },
        )
    cache.close()
    started = time.perf_counter()
    result = run_harvest(config)  # the teacher's URL answers nothing: any request would fail
    elapsed = time.perf_counter() - started
    print(
        f"3. cache: re-running {n:,} harvested requests: {elapsed:.2f} s, "
        f"{result.stats.to_send} sent, {result.written:,} samples written"
    )


def faults(tmp: Path, n: int) -> None:
    root = tmp / "faults"
    root.mkdir()
    tasks = write_tasks(root / "tasks.jsonl", n, "faults")
    args = (
        "--latency",
        "0.05",
        "--fault-5xx",
        "0.2",
        "--fault-malformed",
        "0.05",
        "--fault-drop",
        "0.05",
        "--fault-stall",
        "0.02",
        "--stall-s",
        "30",
    )
    with sim_process(*args) as url:
        config = load_config(write_config(root, tasks, url, timeout_s=2, max_in_flight=64))
        result = run_harvest(config)
        seen = stats(url)
    ok = result.stats.ok
    print(
        f"4. faults (20% 5xx, 5% malformed, 5% dropped, 2% stalls), {n} requests: "
        f"{ok / n:.1%} ok after {result.stats.retries} retries; keys answered twice: "
        f"{seen['duplicate_ok_answers']}"
    )


def _comparable(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:  # when an answer arrived and how long it took differ between runs
        row.pop("created_at")
        row.pop("latency_s", None)
    return rows


def kill_and_resume(tmp: Path, n: int, kills: int) -> None:
    in_flight = 32
    rng = random.Random(1)
    reference, killed = tmp / "uninterrupted", tmp / "killed"
    for root in (reference, killed):
        root.mkdir()
        write_tasks(root / "tasks.jsonl", n, "resume")
    with sim_process("--latency", "uniform:0.1,0.3", "--seed", "5") as url:
        ref_config = write_config(
            reference, reference / "tasks.jsonl", url, max_in_flight=in_flight
        )
        assert distill_cli(ref_config).wait() == 0
        stats(url, reset=True)
        config = write_config(killed, killed / "tasks.jsonl", url, max_in_flight=in_flight)
        for _ in range(kills):
            process = distill_cli(config)
            time.sleep(rng.uniform(0.8, 2.5))
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        assert distill_cli(config).wait() == 0
        paid = stats(url)["requests"]
    same = _comparable(reference / "out" / "samples.jsonl") == _comparable(
        killed / "out" / "samples.jsonl"
    )
    extra = paid - n
    print(
        f"5. kill and resume: {kills} SIGKILLs during a {n}-request harvest ({in_flight} in "
        f"flight), then a last run: samples file equal to an uninterrupted run's: {same}; "
        f"extra requests paid: {extra} ({extra / kills:.1f} per kill, cap {in_flight})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = args.quick
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        throughput(root, 1000 if quick else 5000, 256)
        n, latency = (2000, 5.0) if quick else (10_000, 30.0)
        print(f"1b. {n:,} in flight (open files limit {raise_open_files():,})")
        for transport in TRANSPORTS:
            many_in_flight(root, n, latency, transport)
        rate_limit(root, 20 if quick else 90)
        cache_rerun(root, 10_000 if quick else 100_000)
        faults(root, 500 if quick else 2000)
        kill_and_resume(root, 400 if quick else 1500, 3 if quick else 10)


if __name__ == "__main__":
    main()

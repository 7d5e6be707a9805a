"""Harvest throughput: distill vs a minimal asyncio loop over the same SDK and HTTP client.

Both run in this process against one simulator subprocess on 127.0.0.1 (0.2 s latency, no
limit), one after the other, each on fresh prompts so nothing is cached. Prints requests/s for
both and the ratio. Usage: python bench/harvest.py [--requests 5000] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx2
import openai

from distill.config import load_config
from distill.harvest import run_harvest
from distill.sim import sim_process


def write_tasks(path: Path, count: int, tag: str) -> None:
    with path.open("w") as handle:
        for i in range(count):
            row = {
                "schema_version": 1,
                "id": f"{tag}-{i}",
                "kind": "chat",
                "prompt": f"[{tag}] Explain item number {i} in one sentence.",
            }
            handle.write(json.dumps(row) + "\n")


async def minimal_loop(
    base_url: str, prompts: list[str], concurrency: int, through_sdk: bool
) -> float:
    """The baseline: a bare worker loop, JSON in, JSON out, no limits, cache or retries; either
    through the openai SDK's post (the call distill makes) or plain httpx2 (under the SDK)."""
    http = httpx2.AsyncClient(
        limits=httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    )
    sdk = openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0, http_client=http)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for prompt in prompts:
        queue.put_nowait(prompt)

    async def worker() -> None:
        while not queue.empty():
            prompt = queue.get_nowait()
            body = {
                "model": "sim-r1",
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": 4096,
            }
            if through_sdk:
                response = await sdk.post("/chat/completions", body=body, cast_to=httpx2.Response)
            else:
                response = await http.post(f"{base_url}/chat/completions", json=body)
                response.raise_for_status()
            json.loads(response.content)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await http.aclose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency", default="0.2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sim_process("--latency", args.latency) as url:
        root = Path(tmp)
        tasks = root / "tasks.jsonl"
        write_tasks(tasks, args.requests, "distill")
        (root / "c.toml").write_text(f"""
name = "bench"
tasks = ["{tasks}"]
[teachers.sim]
provider = "openai_compat"
model = "sim-r1"
base_url = "{url}"
timeout_s = 60
[teachers.sim.limits]
max_in_flight = {args.concurrency}
""")
        config = load_config(root / "c.toml")
        started = time.perf_counter()
        result = run_harvest(config)
        ours = time.perf_counter() - started
        assert result.stats.ok == args.requests, result.stats.to_dict()

        prompts = [
            f"[baseline] Explain item number {i} in one sentence." for i in range(args.requests)
        ]
        base = asyncio.run(minimal_loop(url, prompts, args.concurrency))

        started = time.perf_counter()
        again = run_harvest(config)
        cached = time.perf_counter() - started
        assert again.stats.to_send == 0

    print(f"requests: {args.requests}, latency {args.latency} s, concurrency {args.concurrency}")
    print(f"distill harvest : {args.requests / ours:8.0f} req/s ({ours:.2f} s, whole run_harvest)")
    print(f"minimal loop, openai SDK post : {args.requests / base:8.0f} req/s ({base:.2f} s)")
    print(f"minimal loop, plain httpx2    : {args.requests / raw:8.0f} req/s ({raw:.2f} s)")
    print(f"ratio distill / minimal SDK loop: {base / ours:.2f}x")
    print(f"ratio distill / plain httpx2 loop: {raw / ours:.2f}x")
    print(f"re-run from cache: {cached:.2f} s for {args.requests} requests, 0 sent")


if __name__ == "__main__":
    main()

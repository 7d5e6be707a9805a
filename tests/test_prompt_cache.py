"""Prompt caching on the harvest side: a task's samples share their prompt byte for byte, the
Anthropic body marks it with cache_control, OpenAI's gets a prompt_cache_key, usage counts cache
reads and writes, and none of it reaches the request key."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from factories import EXAMPLES, read_jsonl, teacher_toml, write_config, write_jsonl

from distill.config import Config, Price, TeacherConfig, load_config
from distill.harvest import run_harvest
from distill.harvest.plan import PlannedRequest, build_plan
from distill.harvest.prices import cache_saving_usd, cost_usd, price_of
from distill.harvest.providers import make_provider
from distill.harvest.providers.anthropic import AnthropicProvider, with_cache_markers
from distill.harvest.providers.base import SDKProvider
from distill.harvest.providers.openai_compat import OpenAICompatProvider
from distill.prompts import PromptLibrary, PromptRenderer
from distill.records import Usage
from distill.sim import SimConfig, running_sim
from distill.tasks import load_tasks

EPHEMERAL = {"type": "ephemeral"}
CLAUDE = TeacherConfig(provider="anthropic", model="claude-sonnet-4-5", transport="httpx")
GPT = TeacherConfig(provider="openai_compat", model="gpt-4.1", transport="httpx")
FEW_SHOT = [
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "3+3?"},
]


def _provider(teacher: TeacherConfig) -> SDKProvider:
    cls = AnthropicProvider if teacher.provider == "anthropic" else OpenAICompatProvider
    return cls("t", teacher, "")


@pytest.fixture
def providers() -> Iterator[list[SDKProvider]]:
    """Providers a test builds (append to the list), closed after it."""
    made: list[SDKProvider] = []
    yield made
    for provider in made:
        asyncio.run(provider.aclose())


def _markers(value: Any) -> int:
    if isinstance(value, dict):
        return int("cache_control" in value) + sum(_markers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_markers(v) for v in value)
    return 0


# --- a task's samples share their prompt --------------------------------------------------------


def _config(tmp_path: Path, prompt_cache: bool = True) -> Config:
    """Two teachers, four samples a task, over the math examples and a few-shot chat task."""
    few_shot = write_jsonl(
        tmp_path / "few_shot.jsonl", [{"id": "fs-1", "kind": "chat", "messages": FEW_SHOT}]
    )
    url = "http://127.0.0.1:9/v1"
    cache = f"prompt_cache = {str(prompt_cache).lower()}\n"
    teachers = teacher_toml(
        url, name="oa", samples_per_task=4, extra="seed = 11\ntemperature = 0.7\n" + cache
    ) + teacher_toml(
        url, name="an", provider="anthropic", model="claude-x", samples_per_task=4, extra=cache
    )
    tasks = [EXAMPLES["math"], few_shot]
    prompts = '[prompts]\nsystem = "reasoning_default"\n'
    return load_config(write_config(tmp_path, url, teacher=teachers, tasks=tasks, extra=prompts))


def _plan(config: Config) -> list[PlannedRequest]:
    renderer = PromptRenderer(PromptLibrary.load(config.prompts.library), config.prompts)
    return build_plan(config, load_tasks(config), renderer)


def _groups(plan: list[PlannedRequest]) -> dict[tuple[str, str], list[PlannedRequest]]:
    groups: dict[tuple[str, str], list[PlannedRequest]] = {}
    for request in plan:
        groups.setdefault((request.task_id, request.teacher), []).append(request)
    return groups


def test_every_sample_of_a_task_sends_the_same_prompt_bytes(
    tmp_path: Path, providers: list[SDKProvider]
) -> None:
    config = _config(tmp_path)
    built = {name: _provider(t) for name, t in config.teachers.items()}
    providers.extend(built.values())
    groups = _groups(_plan(config))
    assert {len(g) for g in groups.values()} == {4} and len(groups) >= 4
    for (task_id, teacher), requests in groups.items():
        first = requests[0].messages
        # System prompt, then the few-shot turns, then the problem statement.
        assert first[0]["role"] == "system" and first[-1]["role"] == "user"
        if task_id == "fs-1":
            assert first[1:] == FEW_SHOT
        assert all(r.messages == first for r in requests)
        encoded = [json.dumps(built[teacher].body(r.messages, r.params)) for r in requests]
        if teacher == "an":  # no per-sample parameter: the very same bytes
            assert len(set(encoded)) == 1
            assert list(json.loads(encoded[0])) == ["model", "system", "messages", "max_tokens"]
            continue
        # OpenAI: the same bytes up to the seed, the one parameter a sample changes.
        cuts = [e.index('"seed"') for e in encoded]
        assert all(e.index('"messages"') < cut for e, cut in zip(encoded, cuts, strict=True))
        assert len({e[:cut] for e, cut in zip(encoded, cuts, strict=True)}) == 1
        bodies = [json.loads(e) for e in encoded]
        assert [b.pop("seed") for b in bodies] == [11, 12, 13, 14]
        assert all(b == bodies[0] for b in bodies)


def test_request_keys_do_not_change_with_prompt_cache(tmp_path: Path) -> None:
    on = _plan(_config(tmp_path / "on"))
    off = _plan(_config(tmp_path / "off", prompt_cache=False))
    assert [r.key for r in on] == [r.key for r in off] and len(on) > 8
    assert all("cache_control" not in json.dumps(r.messages) for r in on)
    assert all("prompt_cache_key" not in r.params for r in on)


# --- the Anthropic body -------------------------------------------------------------------------

SYSTEM_AND_USER = [
    {"role": "system", "content": "You are careful."},
    {"role": "user", "content": "What is 6 times 7?"},
]


def test_anthropic_marks_the_system_prompt_and_the_last_user_message(
    providers: list[SDKProvider],
) -> None:
    provider = _provider(CLAUDE)
    providers.append(provider)
    messages = copy.deepcopy(SYSTEM_AND_USER)
    body = provider.body(messages, {"max_tokens": 64})
    assert body["system"] == [
        {"type": "text", "text": "You are careful.", "cache_control": EPHEMERAL}
    ]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is 6 times 7?", "cache_control": EPHEMERAL}],
        }
    ]
    assert list(body) == ["model", "system", "messages", "max_tokens"]
    assert messages == SYSTEM_AND_USER  # the plan's messages are shared by every sample


def test_anthropic_without_prompt_cache_sends_the_plain_body(providers: list[SDKProvider]) -> None:
    provider = _provider(replace(CLAUDE, prompt_cache=False))
    providers.append(provider)
    body = provider.body(SYSTEM_AND_USER, {"max_tokens": 64})
    assert body == {
        "model": "claude-sonnet-4-5",
        "system": "You are careful.",
        "messages": [SYSTEM_AND_USER[1]],
        "max_tokens": 64,
    }
    assert "cache_control" not in json.dumps(body)


def test_anthropic_marks_the_last_user_message_before_a_prefill() -> None:
    messages = [*FEW_SHOT, {"role": "assistant", "content": "The answer is"}]
    body = with_cache_markers({"model": "m", "messages": messages})
    assert body["messages"][:2] == FEW_SHOT[:2] and body["messages"][3] == messages[3]
    assert body["messages"][2]["content"][-1]["cache_control"] == EPHEMERAL
    assert _markers(body) == 1 and "system" not in body


def test_anthropic_marks_the_last_block_of_block_content() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    text = {"type": "text", "text": "Describe it."}
    messages = [{"role": "user", "content": [image, text]}]
    kept = copy.deepcopy(messages)
    body = with_cache_markers({"model": "m", "system": "s", "messages": messages})
    assert body["messages"][0]["content"] == [image, {**text, "cache_control": EPHEMERAL}]
    assert messages == kept and "cache_control" not in text
    assert body["system"] == [{"type": "text", "text": "s", "cache_control": EPHEMERAL}]


def _marked_user(n: int) -> list[dict[str, Any]]:
    """n user turns (with replies), each with its own cache_control marker, and a last question."""
    turns: list[dict[str, Any]] = []
    for i in range(n):
        block = {"type": "text", "text": f"doc {i}", "cache_control": EPHEMERAL}
        turns += [{"role": "user", "content": [block]}, {"role": "assistant", "content": "ok"}]
    return [*turns, {"role": "user", "content": "question"}]


@pytest.mark.parametrize(("existing", "added"), [(0, 2), (2, 2), (3, 1), (4, 0), (5, 0)])
def test_anthropic_keeps_the_users_markers_within_four(existing: int, added: int) -> None:
    body = with_cache_markers({"model": "m", "system": "s", "messages": _marked_user(existing)})
    assert _markers(body) == existing + added
    assert _markers(body) <= max(4, existing)
    last = body["messages"][-1]["content"]
    assert (isinstance(last, list) and "cache_control" in last[-1]) == (added >= 1)
    assert isinstance(body["system"], list) == (added == 2)


def test_anthropic_counts_markers_in_tools_and_does_not_mark_twice() -> None:
    tools = [{"name": "f", "input_schema": {}, "cache_control": EPHEMERAL}] * 3
    body = with_cache_markers(
        {"model": "m", "system": "s", "messages": _marked_user(0), "tools": tools}
    )
    assert _markers(body) == 4 and body["system"] == "s"
    again = with_cache_markers(body)
    assert again == body


def test_anthropic_keeps_system_blocks_with_their_markers() -> None:
    own = {"type": "text", "text": "long rules", "cache_control": EPHEMERAL}
    tail = {"type": "text", "text": "tail"}
    body = with_cache_markers({"model": "m", "system": [own, tail], "messages": []})
    assert body["system"] == [own, {**tail, "cache_control": EPHEMERAL}]


def test_anthropic_system_blocks_pass_through(providers: list[SDKProvider]) -> None:
    provider = _provider(replace(CLAUDE, prompt_cache=False))
    providers.append(provider)
    own = [{"type": "text", "text": "rules", "cache_control": EPHEMERAL}]
    body = provider.body([{"role": "system", "content": own}, SYSTEM_AND_USER[1]], {})
    assert body["system"] == own  # blocks, not their Python repr


# --- the OpenAI body ----------------------------------------------------------------------------


def test_openai_gets_a_prompt_cache_key_per_prompt(providers: list[SDKProvider]) -> None:
    provider = _provider(replace(GPT, seed=1))
    providers.append(provider)
    first = [provider.body(SYSTEM_AND_USER, provider.request_params(i)) for i in range(3)]
    keys = {b["prompt_cache_key"] for b in first}
    assert len(keys) == 1 and len(keys.pop()) == 16
    assert list(first[0]) == ["model", "messages", "prompt_cache_key", "max_tokens", "seed"]
    other = provider.body([SYSTEM_AND_USER[0], {"role": "user", "content": "x"}], {})
    assert other["prompt_cache_key"] != first[0]["prompt_cache_key"]
    assert "prompt_cache_key" not in provider.request_params(0)


@pytest.mark.parametrize(
    ("base_url", "prompt_cache"),
    [
        ("https://api.openai.com/v1", False),
        ("http://127.0.0.1:8000/v1", True),  # vLLM
        ("https://api.deepseek.com", True),
    ],
)
def test_openai_compatible_servers_get_no_cache_key(
    providers: list[SDKProvider], base_url: str, prompt_cache: bool
) -> None:
    provider = _provider(replace(GPT, base_url=base_url, prompt_cache=prompt_cache))
    providers.append(provider)
    body = provider.body(SYSTEM_AND_USER, {"max_tokens": 8})
    assert body == {"model": "gpt-4.1", "messages": SYSTEM_AND_USER, "max_tokens": 8}


# --- usage and what it cost ---------------------------------------------------------------------


def _anthropic_reply(usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "42"}],
        "stop_reason": "end_turn",
        "usage": usage,
    }


def test_anthropic_usage_counts_cache_reads_and_writes(providers: list[SDKProvider]) -> None:
    provider = _provider(CLAUDE)
    providers.append(provider)
    write = provider.completion(
        _anthropic_reply(
            {"input_tokens": 50, "cache_creation_input_tokens": 3000, "output_tokens": 100}
        )
    ).usage
    read = provider.completion(
        _anthropic_reply(
            {
                "input_tokens": 50,
                "cache_read_input_tokens": 3000,
                "cache_creation_input_tokens": 0,
                "output_tokens": 100,
            }
        )
    ).usage
    assert write == Usage(3050, 100, 0, cached_tokens=0, cache_write_tokens=3000)
    assert read == Usage(3050, 100, 0, cached_tokens=3000, cache_write_tokens=0)
    price = price_of(replace(CLAUDE, model="claude-sonnet-4-5"))
    assert price == Price(input=3.0, cached_input=0.3, output=15.0, cache_write=3.75)
    # A write costs 1.25x input, a read 0.1x.
    assert cost_usd(price, write) == pytest.approx((50 * 3 + 3000 * 3.75 + 100 * 15) / 1e6)
    assert cost_usd(price, read) == pytest.approx((50 * 3 + 3000 * 0.3 + 100 * 15) / 1e6)
    assert cache_saving_usd(price, write) == pytest.approx(-3000 * 0.75 / 1e6)
    assert cache_saving_usd(price, read) == pytest.approx(3000 * 2.7 / 1e6)
    # Half price in a batch, the write's 1.25x included.
    assert cost_usd(price, write, batch=True) == pytest.approx(cost_usd(price, write) / 2)


def _openai_reply(usage: dict[str, Any]) -> dict[str, Any]:
    message = {"role": "assistant", "content": "42"}
    return {"model": "gpt-4.1", "choices": [{"message": message, "finish_reason": "stop"}],
            "usage": usage}  # fmt: skip


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 2000, "completion_tokens": 10,
         "prompt_tokens_details": {"cached_tokens": 1920}},
        {"prompt_tokens": 2000, "completion_tokens": 10,  # DeepSeek
         "prompt_cache_hit_tokens": 1920, "prompt_cache_miss_tokens": 80},
    ],
)  # fmt: skip
def test_openai_usage_counts_cache_reads(
    providers: list[SDKProvider], usage: dict[str, Any]
) -> None:
    provider = _provider(GPT)
    providers.append(provider)
    got = provider.completion(_openai_reply(usage)).usage
    assert got == Usage(2000, 10, 0, cached_tokens=1920, cache_write_tokens=0)
    price = price_of(GPT)
    assert cost_usd(price, got) == pytest.approx((80 * 2.0 + 1920 * 0.5 + 10 * 8.0) / 1e6)
    assert cache_saving_usd(price, got) == pytest.approx(1920 * 1.5 / 1e6)


# --- on the wire --------------------------------------------------------------------------------


class _Capture(BaseHTTPRequestHandler):
    """Keeps every POSTed body and answers with an Anthropic message that hit the cache."""

    protocol_version = "HTTP/1.1"
    bodies: list[bytes]

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(raw)  # type: ignore[attr-defined]
        usage = {"input_tokens": 5, "cache_read_input_tokens": 40, "output_tokens": 1}
        reply = json.dumps(_anthropic_reply(usage)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[tuple[str, list[bytes]]]:
    """A local server keeping the raw request bodies it receives: its URL and those bodies."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.bodies  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_the_posted_body_carries_the_markers(
    capture: tuple[str, list[bytes]], transport: str
) -> None:
    url, bodies = capture
    teacher = replace(CLAUDE, base_url=url, transport=transport)

    async def two_samples() -> list[Usage]:
        provider = make_provider("t", teacher, "")
        try:
            params = provider.request_params(0)
            return [(await provider.complete(SYSTEM_AND_USER, params, i)).usage for i in (0, 1)]
        finally:
            await provider.aclose()

    usages = asyncio.run(two_samples())
    assert usages == [Usage(45, 1, 0, cached_tokens=40)] * 2
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same bytes for both samples
    body = json.loads(bodies[0])
    assert list(body) == ["model", "system", "messages", "max_tokens"]
    assert body["system"][-1]["cache_control"] == EPHEMERAL
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL


# --- against the simulator's prompt cache -------------------------------------------------------

LONG_PROMPT = " ".join(f"Fact {i}: the value of item {i} is {i * 7 % 13}." for i in range(400))


@pytest.mark.parametrize(
    ("provider", "model", "prompt_cache", "hits"),
    [
        ("anthropic", "sim-claude", True, True),
        ("anthropic", "sim-claude", False, False),  # no markers: Anthropic caches nothing
        ("openai_compat", "sim-r1", True, True),  # OpenAI caches by itself
    ],
)
def test_a_tasks_second_sample_reads_the_first_ones_cache(
    tmp_path: Path, provider: str, model: str, prompt_cache: bool, hits: bool
) -> None:
    tasks = write_jsonl(
        tmp_path / "long.jsonl", [{"id": "long-1", "kind": "chat", "prompt": LONG_PROMPT}]
    )
    extra = f"prompt_cache = {str(prompt_cache).lower()}\n"
    with running_sim(SimConfig(p_correct=1.0)) as url:
        teacher = teacher_toml(
            url, name="t", provider=provider, model=model, max_in_flight=1, extra=extra
        )
        config = load_config(write_config(tmp_path, url, teacher=teacher, tasks=[tasks]))
        result = run_harvest(config)
    rows = sorted(read_jsonl(result.samples_path), key=lambda r: r["sample_index"])
    assert [r["status"] for r in rows] == ["ok", "ok"]
    first, second = (r["usage"] for r in rows)
    assert first["prompt_tokens"] == second["prompt_tokens"] > 1024
    assert first["cached_tokens"] == 0
    stats = result.stats
    if not hits:
        assert second["cached_tokens"] == 0 and stats.cache_hit_tokens == 0
        assert stats.cache_write_tokens == 0
        return
    assert second["cached_tokens"] > 1024 and stats.cache_hit_tokens == second["cached_tokens"]
    if provider == "anthropic":  # the first sample wrote the cache the second read
        assert first["cache_write_tokens"] == second["cached_tokens"]
        assert stats.cache_write_tokens == first["cache_write_tokens"]
    else:
        assert stats.cache_write_tokens == 0

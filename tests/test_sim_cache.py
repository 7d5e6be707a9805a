"""The simulator's prompt caching (Anthropic markers, OpenAI automatic, DeepSeek's fields), its
per-task pass rates (meta.sim_p_correct) and its padded reasoning lengths, over real HTTP with
the official SDKs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from factories import sim_stats

from distill.errors import ConfigError
from distill.records import Task
from distill.sim import SimConfig, running_sim
from distill.sim.answering import task_p_correct
from distill.sim.prompt_cache import Caches, PromptCache, anthropic_prefix
from distill.sim.wire import tokens

LONG = "The following context is long and stays the same across requests. " * 6  # 396 chars
MATH = "What is 6 times 7?"
MARK = {"type": "ephemeral"}
TASKS = [
    {"id": "m1", "kind": "math", "prompt": MATH, "reference": {"answer": "42"}},
    {
        "id": "easy",
        "kind": "math",
        "prompt": "What is 1 plus 1?",
        "reference": {"answer": "2"},
        "meta": {"sim_p_correct": 1},
    },
    {
        "id": "hopeless",
        "kind": "math",
        "prompt": "What is 3 plus 3?",
        "reference": {"answer": "6"},
        "meta": {"sim_p_correct": 0.0},
    },
]


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("simc") / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    return str(path)


@pytest.fixture
def url(task_file: str) -> Iterator[str]:
    with running_sim(SimConfig(cache_min_tokens=64, task_files=(task_file,))) as base:
        yield base


@pytest.fixture
def an(url: str) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=url.removesuffix("/v1"), api_key="k", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def oa(url: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=url, api_key="k", max_retries=0)
    yield client
    client.close()


def usage_of(an: anthropic.Anthropic, model: str = "sim-claude", **body: Any) -> tuple[int, ...]:
    u = an.messages.create(model=model, max_tokens=100, **body).usage
    return u.input_tokens, u.cache_creation_input_tokens or 0, u.cache_read_input_tokens or 0


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# --- Anthropic: explicit markers --------------------------------------------------------------


def test_anthropic_marked_system_is_written_then_read(url: str, an: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": LONG, "cache_control": MARK}]
    prefix, rest = tokens(LONG), tokens(MATH)
    assert usage_of(an, system=system, messages=user(MATH)) == (rest, prefix, 0)
    assert usage_of(an, system=system, messages=user(MATH)) == (rest, 0, prefix)
    # What follows the marked prefix may change; the prefix itself, or the model, may not.
    other = "What is 2 plus 2?"
    assert usage_of(an, system=system, messages=user(other)) == (tokens(other), 0, prefix)
    assert usage_of(an, "sim-claude-redacted", system=system, messages=user(MATH))[1] == prefix
    changed = [{"type": "text", "text": LONG + "!", "cache_control": MARK}]
    assert usage_of(an, system=changed, messages=user(MATH))[1] == tokens(LONG + "!")
    stats = sim_stats(url)
    assert stats["cache_read_tokens"] == 2 * prefix
    assert stats["cache_write_tokens"] == 2 * prefix + tokens(LONG + "!")


def test_anthropic_marker_in_a_message(an: anthropic.Anthropic) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": LONG, "cache_control": MARK},
                {"type": "text", "text": MATH},  # after the marker: not cached
            ],
        }
    ]
    system = [{"type": "text", "text": "Be brief.", "cache_control": MARK}]  # an earlier marker
    prompt = tokens("Be brief.") + tokens(LONG + "\n" + MATH)
    prefix = tokens("Be brief.") + tokens(LONG)
    assert usage_of(an, system=system, messages=messages) == (prompt - prefix, prefix, 0)
    assert usage_of(an, system=system, messages=messages) == (prompt - prefix, 0, prefix)
    found = anthropic_prefix({"system": system, "messages": messages})
    assert found is not None and found[1] == prefix


def test_anthropic_reads_the_longest_cached_marked_prefix(an: anthropic.Anthropic) -> None:
    # A system prompt shared by two tasks, each prompt marked too: the second task reads the
    # system prompt from the cache and writes only its own part, as the API bills it.
    system = [{"type": "text", "text": LONG, "cache_control": MARK}]

    def marked(text: str) -> list[dict[str, Any]]:
        return [
            {"role": "user", "content": [{"type": "text", "text": text, "cache_control": MARK}]}
        ]

    first, second = MATH, MATH + " Show your work."
    assert usage_of(an, system=system, messages=marked(first)) == (
        0, tokens(LONG) + tokens(first), 0)  # fmt: skip
    assert usage_of(an, system=system, messages=marked(second)) == (
        0, tokens(second), tokens(LONG))  # fmt: skip
    assert usage_of(an, system=system, messages=marked(second)) == (
        0, 0, tokens(LONG) + tokens(second))  # fmt: skip


def test_anthropic_no_marker_or_a_short_prefix_is_not_cached(an: anthropic.Anthropic) -> None:
    plain = [{"type": "text", "text": LONG}]
    short = [{"type": "text", "text": "Be brief.", "cache_control": MARK}]
    for _ in range(2):
        assert usage_of(an, system=plain, messages=user(MATH)) == (tokens(LONG + MATH) - 0, 0, 0)
        assert usage_of(an, system=short, messages=user(MATH))[1:] == (0, 0)


def test_anthropic_cache_expires_after_its_ttl(task_file: str) -> None:
    config = SimConfig(cache_min_tokens=64, cache_ttl_s=0.2, task_files=(task_file,))
    system = [{"type": "text", "text": LONG, "cache_control": MARK}]
    with running_sim(config) as base:
        an = anthropic.Anthropic(base_url=base.removesuffix("/v1"), api_key="k", max_retries=0)
        with an:
            assert usage_of(an, system=system, messages=user(MATH))[1] == tokens(LONG)
            time.sleep(0.5)  # longer than the TTL: the entry is gone, however slow the machine
            assert usage_of(an, system=system, messages=user(MATH))[1] == tokens(LONG)


def test_a_hit_pushes_the_expiry_back() -> None:
    now = [0.0]
    cache = PromptCache(10.0, clock=lambda: now[0])
    seen = []
    for at in (0.0, 9.0, 18.0, 29.0):
        now[0] = at
        seen.append(cache.touch(b"k"))
    assert seen == [False, True, True, False]
    caches = Caches(min_tokens=100, ttl_s=5.0, clock=lambda: now[0])
    messages = user("x" * 800)  # 200 tokens
    assert caches.openai("m", messages, 200).read == 0
    assert caches.openai("m", messages, 200).read == 128
    now[0] += 6.0
    assert caches.openai("m", messages, 200).read == 0
    assert caches.openai("m", messages, 99).read == 0  # below min_tokens: never cached


# --- OpenAI: automatic ------------------------------------------------------------------------


def test_openai_repeated_prompt_reads_the_cache(url: str, oa: openai.OpenAI) -> None:
    def cached(model: str, text: str) -> tuple[int, int]:
        u = oa.chat.completions.create(model=model, messages=user(text)).usage
        assert u is not None and u.prompt_tokens_details is not None
        return u.prompt_tokens, u.prompt_tokens_details.cached_tokens or 0

    n = tokens(LONG)  # 99 tokens: one 128-token chunk short, so use twice that
    text = LONG + LONG
    total = tokens(text)
    assert total >= 128 > n
    assert cached("sim-r1", text) == (total, 0)
    assert cached("sim-r1", text) == (total, 128)
    assert cached("sim-plain", text) == (total, 0)  # another model, another cache
    assert cached("sim-r1", MATH) == cached("sim-r1", MATH) == (tokens(MATH), 0)
    assert sim_stats(url)["cache_read_tokens"] == 128


def test_openai_keys_on_the_text_and_deepseek_reports_hits(oa: openai.OpenAI) -> None:
    text = LONG * 2
    marked = [{"role": "user", "content": [{"type": "text", "text": text, "cache_control": MARK}]}]

    def usage(messages: list[dict[str, Any]]) -> dict[str, Any]:
        resp = oa.chat.completions.with_raw_response.create(
            model="deepseek-reasoner",
            messages=messages,
        )
        got: dict[str, Any] = json.loads(resp.content)["usage"]
        return got

    total = tokens(text)
    first, second = usage(user(text)), usage(marked)
    assert (first["prompt_cache_hit_tokens"], first["prompt_cache_miss_tokens"]) == (0, total)
    assert second["prompt_tokens_details"]["cached_tokens"] == 128
    assert (second["prompt_cache_hit_tokens"], second["prompt_cache_miss_tokens"]) == (
        128,
        total - 128,
    )
    plain = oa.chat.completions.with_raw_response.create(model="sim-r1", messages=user(text))
    assert "prompt_cache_hit_tokens" not in json.loads(plain.content)["usage"]


def test_batch_items_share_the_cache(url: str, an: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": LONG, "cache_control": MARK}]
    assert usage_of(an, system=system, messages=user(MATH))[1] == tokens(LONG)

    async def work() -> list[Any]:
        client = anthropic.AsyncAnthropic(
            base_url=url.removesuffix("/v1"), api_key="k", max_retries=0
        )
        async with client:
            params = {"model": "sim-claude", "max_tokens": 100, "system": system}
            batch = await client.messages.batches.create(
                requests=[{"custom_id": "s1-a", "params": params | {"messages": user(MATH)}}]
            )
            return [r async for r in await client.messages.batches.results(batch.id)]

    (row,) = asyncio.run(work())
    assert row.result.type == "succeeded"
    assert row.result.message.usage.cache_read_input_tokens == tokens(LONG)


def test_bad_cache_settings_are_one_line_errors() -> None:
    for kwargs in ({"cache_min_tokens": -1}, {"cache_ttl_s": float("nan")}):
        with pytest.raises(ConfigError, match="cache_"):
            SimConfig(**kwargs)
    with pytest.raises(ConfigError, match="reasoning_tokens"):
        SimConfig(reasoning_tokens=-5)


# --- per-task pass rates ----------------------------------------------------------------------


def test_sim_p_correct_overrides_the_global_rate(task_file: str) -> None:
    def boxed(oa: openai.OpenAI, prompt: str, index: int) -> str:
        resp = oa.chat.completions.create(
            model="sim-r1",
            messages=user(prompt),
            extra_headers={"x-distill-sample-index": str(index)},
        )
        text = resp.choices[0].message.content or ""
        return text.rsplit("\\boxed{", 1)[1].split("}", 1)[0]

    config = SimConfig(p_correct=0.5, task_files=(task_file,))
    with running_sim(config) as base, openai.OpenAI(base_url=base, api_key="k") as oa:
        easy = {boxed(oa, "What is 1 plus 1?", i) for i in range(20)}
        hopeless = {boxed(oa, "What is 3 plus 3?", i) for i in range(20)}
        middling = [boxed(oa, MATH, i) == "42" for i in range(40)]
    assert easy == {"2"}
    assert hopeless and "6" not in hopeless
    assert 0 < sum(middling) < 40  # the global 0.5 for the task without its own rate


def test_task_p_correct_reads_only_a_valid_rate() -> None:
    def task(meta: dict[str, Any]) -> Task:
        return Task(id="t", kind="math", prompt="p", meta=meta)

    assert task_p_correct(task({"sim_p_correct": 0.25}), 0.7) == 0.25
    assert task_p_correct(None, 0.7) == 0.7
    for bad in (1.5, -0.1, "high", True, None):
        assert task_p_correct(task({"sim_p_correct": bad}), 0.7) == 0.7


# --- reasoning lengths ------------------------------------------------------------------------


def test_reasoning_tokens_pads_the_trace_and_keeps_the_answer(task_file: str) -> None:
    def answer(base: str, index: int, **extra: Any) -> Any:
        with openai.OpenAI(base_url=base, api_key="k", max_retries=0) as oa:
            return oa.chat.completions.create(
                model="sim-r1",
                messages=user(MATH),
                extra_headers={"x-distill-sample-index": str(index)},
                **extra,
            )

    with running_sim(SimConfig(seed=4, task_files=(task_file,))) as base:
        plain = [answer(base, i) for i in range(4)]
    padded_config = SimConfig(seed=4, reasoning_tokens=3000, task_files=(task_file,))
    with running_sim(padded_config) as base:
        padded = [answer(base, i) for i in range(4)]
        again = answer(base, 0)
        cut = answer(base, 0, max_tokens=1000)
        with anthropic.Anthropic(base_url=base.removesuffix("/v1"), api_key="k") as an:
            thinking = an.messages.create(
                model="sim-claude",
                max_tokens=8000,
                thinking={"type": "enabled", "budget_tokens": 6000},
                messages=user(MATH),
            )
            no_thinking = an.messages.create(
                model="sim-claude", max_tokens=8000, messages=user(MATH)
            )
    lengths = set()
    for short, long in zip(plain, padded, strict=True):
        assert long.choices[0].message.content == short.choices[0].message.content
        reasoning = long.choices[0].message.reasoning_content
        assert reasoning.startswith(short.choices[0].message.reasoning_content)
        n = long.usage.completion_tokens_details.reasoning_tokens
        assert 0.7 * 3000 - 10 <= n <= 1.3 * 3000 + 30
        lengths.add(n)
    assert len(lengths) > 1  # each answer draws its own length
    assert again.choices[0].message == padded[0].choices[0].message  # deterministic
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens <= 1000
    assert cut.choices[0].message.content == ""
    block = thinking.content[0]
    assert block.type == "thinking" and tokens(block.thinking) >= 0.7 * 3000 - 10
    assert [b.type for b in no_thinking.content] == ["text"]

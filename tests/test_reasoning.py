"""distill.reasoning (where each teacher puts its reasoning) and harvest.limits (reset parsing,
header-driven pauses)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from distill.config import Limits
from distill.harvest.limits import TeacherLimiter, estimate_tokens, parse_reset
from distill.reasoning import (
    from_anthropic_blocks,
    from_openai_message,
    split_inline_think,
)

# --- split_inline_think -------------------------------------------------------------------


def test_split_both_tags() -> None:
    text = "<think>\nLet me add 2 and 2.\n</think>\n\nThe answer is 4."
    assert split_inline_think(text) == ("Let me add 2 and 2.", "The answer is 4.", True)


def test_split_both_tags_with_leading_whitespace() -> None:
    assert split_inline_think("  \n<think>r</think>a") == ("r", "a", True)


def test_split_only_closing_tag_r1_template() -> None:
    text = "Okay, so the user wants 2+2. That is 4.\n</think>\n\n**4**"
    assert split_inline_think(text) == ("Okay, so the user wants 2+2. That is 4.", "**4**", True)


def test_split_at_the_first_closing_tag() -> None:
    reasoning, answer, complete = split_inline_think("<think>a</think>b</think>c")
    assert (reasoning, answer, complete) == ("a", "b</think>c", True)


def test_split_open_tag_without_close_is_incomplete() -> None:
    reasoning, answer, complete = split_inline_think("<think>\nStill working on step 37 ...")
    assert reasoning == "Still working on step 37 ..."
    assert answer == ""
    assert complete is False


def test_split_no_tags() -> None:
    text = "  Just an answer.\n"
    assert split_inline_think(text) == ("", text, True)


def test_split_think_tag_mid_text_without_close_is_not_reasoning() -> None:
    text = "Use the <think> tag like this."
    assert split_inline_think(text) == ("", text, True)


# --- from_openai_message ------------------------------------------------------------------


def test_openai_reasoning_content_deepseek() -> None:
    message = {"role": "assistant", "content": " 4 ", "reasoning_content": "  2+2=4\n"}
    assert from_openai_message(message) == ("2+2=4", "raw", "4", True)


def test_openai_reasoning_field_vllm_openrouter() -> None:
    message = {"role": "assistant", "content": "4", "reasoning": "two plus two"}
    assert from_openai_message(message) == ("two plus two", "raw", "4", True)


def test_openai_reasoning_content_preferred_over_reasoning() -> None:
    message = {"content": "4", "reasoning_content": "first", "reasoning": "second"}
    assert from_openai_message(message)[0] == "first"


def test_openai_blank_reasoning_field_falls_back_to_inline() -> None:
    message = {"content": "<think>inline</think>4", "reasoning_content": "   ", "reasoning": None}
    assert from_openai_message(message) == ("inline", "raw", "4", True)


def test_openai_inline_think() -> None:
    message = {"role": "assistant", "content": "<think>carry the one</think>\n\n42"}
    assert from_openai_message(message) == ("carry the one", "raw", "42", True)


def test_openai_inline_closing_tag_only() -> None:
    assert from_openai_message({"content": "hmm\n</think>\n7"}) == ("hmm", "raw", "7", True)


def test_openai_inline_truncated() -> None:
    assert from_openai_message({"content": "<think>no end"}) == ("no end", "raw", "", False)


def test_openai_inline_empty_think_is_kind_none() -> None:
    assert from_openai_message({"content": "<think>\n\n</think>\n\nHi"}) == ("", "none", "Hi", True)


def test_openai_no_reasoning() -> None:
    assert from_openai_message({"role": "assistant", "content": " Hello. "}) == (
        "",
        "none",
        "Hello.",
        True,
    )


def test_openai_null_content() -> None:
    assert from_openai_message({"role": "assistant", "content": None}) == ("", "none", "", True)


# --- from_anthropic_blocks ----------------------------------------------------------------

BLOCKS = [
    {"type": "thinking", "thinking": "Step one.", "signature": "sig"},
    {"type": "thinking", "thinking": "Step two."},
    {"type": "text", "text": "The answer "},
    {"type": "text", "text": "is 4."},
]


def test_anthropic_thinking_raw() -> None:
    assert from_anthropic_blocks(BLOCKS, summarized=False) == (
        "Step one.\n\nStep two.",
        "raw",
        "The answer is 4.",
    )


def test_anthropic_thinking_summarized() -> None:
    reasoning, kind, content = from_anthropic_blocks(BLOCKS, summarized=True)
    assert kind == "summarized"
    assert reasoning == "Step one.\n\nStep two."
    assert content == "The answer is 4."


def test_anthropic_thinking_plus_redacted_keeps_the_visible_thinking() -> None:
    blocks = [{"type": "redacted_thinking", "data": "xyz"}, *BLOCKS]
    assert from_anthropic_blocks(blocks, summarized=False)[:2] == ("Step one.\n\nStep two.", "raw")


def test_anthropic_redacted_only() -> None:
    blocks = [{"type": "redacted_thinking", "data": "opaque"}, {"type": "text", "text": "4"}]
    assert from_anthropic_blocks(blocks, summarized=True) == ("", "redacted", "4")


def test_anthropic_text_only() -> None:
    blocks = [{"type": "text", "text": " Hello "}]
    assert from_anthropic_blocks(blocks, summarized=False) == ("", "none", "Hello")


def test_anthropic_empty_thinking_block_and_tool_use() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": ""},
        {"type": "tool_use", "id": "x", "name": "f", "input": {}},
        {"type": "text", "text": "ok"},
    ]
    assert from_anthropic_blocks(blocks, summarized=True) == ("", "none", "ok")


# --- limits: parse_reset ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("1m30s", 90.0),
        ("20ms", 0.02),
        ("1.5s", 1.5),
        ("1.5", 1.5),
        ("2h", 7200.0),
        (" 7 ", 7.0),
        ("", 0.0),
        ("garbage", 0.0),
        ("-3", 0.0),
    ],
)
def test_parse_reset_durations(value: str, seconds: float) -> None:
    assert parse_reset(value) == pytest.approx(seconds)


@pytest.mark.parametrize("suffix", ["+00:00", "Z"])
def test_parse_reset_rfc3339_in_the_future(suffix: str) -> None:
    moment = datetime.now(UTC) + timedelta(seconds=2)
    value = moment.replace(tzinfo=None).isoformat() + suffix
    assert parse_reset(value) == pytest.approx(2.0, abs=0.5)


def test_parse_reset_rfc3339_in_the_past_is_zero() -> None:
    assert parse_reset("2001-01-01T00:00:00Z") == 0.0


def test_parse_reset_bad_time_is_zero() -> None:
    assert parse_reset("NOT A TIME") == 0.0


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


# --- limits: TeacherLimiter ---------------------------------------------------------------


def timed_acquire(limiter: TeacherLimiter) -> float:
    async def go() -> float:
        start = time.monotonic()
        await limiter.acquire(10)
        return time.monotonic() - start

    return asyncio.run(go())


def test_observe_remaining_zero_pauses_until_reset() -> None:
    limiter = TeacherLimiter(Limits(), largest_charge=100)
    limiter.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "0.3s"})
    assert limiter.pauses == 1
    assert timed_acquire(limiter) >= 0.25


def test_observe_anthropic_headers_pause() -> None:
    limiter = TeacherLimiter(Limits(), largest_charge=100)
    reset = (datetime.now(UTC) + timedelta(seconds=0.4)).isoformat()
    limiter.observe(
        {"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": reset}
    )
    assert limiter.pauses == 1
    assert timed_acquire(limiter) >= 0.2


def test_observe_remaining_nonzero_does_not_pause() -> None:
    limiter = TeacherLimiter(Limits(), largest_charge=100)
    limiter.observe({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "30s"})
    limiter.observe({"x-ratelimit-remaining-tokens": "1200", "x-ratelimit-reset-tokens": "1m"})
    assert limiter.pauses == 0
    assert timed_acquire(limiter) < 0.1


def test_observe_zero_without_reset_does_not_pause() -> None:
    limiter = TeacherLimiter(Limits(), largest_charge=100)
    limiter.observe({"x-ratelimit-remaining-requests": "0"})
    assert limiter.pauses == 0
    assert timed_acquire(limiter) < 0.1


def test_pause_only_extends() -> None:
    limiter = TeacherLimiter(Limits(), largest_charge=100)
    limiter.pause(0.3)
    limiter.pause(0.01)  # shorter: does not cut the longer pause short
    assert limiter.pauses == 1
    assert timed_acquire(limiter) >= 0.25

"""Reasoning in a record: where each teacher puts it, and where it goes in a training turn.

Reading (harvest, train): DeepSeek `reasoning_content`; vLLM and OpenRouter: `reasoning`; some
hosts: inline `<think>…</think>` in the content, sometimes without the opening tag (R1's chat
template emits it in the prompt). Anthropic: `thinking` blocks (raw or summarized) and
`redacted_thinking`. All normalise to (reasoning, reasoning_kind, content).

Writing (export, train): placements `think-tags` (`<think>\\n…\\n</think>\\n\\n` + answer, what
R1-style chat templates expect), `field` (a `reasoning_content` key beside the content, for
Qwen3/R1 training templates), `answer-tags` (`<think>…</think>` + `<answer>…</answer>`), `sky-t1`
(Sky-T1's thought and solution markers) and `drop` (the answer alone).
"""

from __future__ import annotations

import re
from typing import Any

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

_TAGS = re.compile(r"</?think>|<\|(?:begin|end)_of_(?:thought|solution)\|>|</?answer>")

BASIC_REASONING = {
    "code": "I need a program that reads the input as described, computes the required result "
    "for every valid case, and prints it in the expected format.",
    "math": "I will work through the problem step by step and state the final answer.",
    "merge": "I will compare both sides of the conflict with the base and keep the intent of "
    "each change.",
}
BASIC_DEFAULT = "I will answer the request directly and completely."


def assistant_text(reasoning: str, answer: str, placement: str) -> str:
    """The assistant turn's content; with `field` the reasoning travels separately."""
    reasoning = reasoning.strip()
    if placement in ("drop", "field") or not reasoning:
        return answer
    if placement == "think-tags":
        return f"<think>\n{reasoning}\n</think>\n\n{answer}"
    if placement == "answer-tags":
        return f"<think>\n{reasoning}\n</think>\n<answer>\n{answer}\n</answer>"
    if placement == "sky-t1":
        return (
            f"<|begin_of_thought|>\n\n{reasoning}\n\n<|end_of_thought|>\n\n"
            f"<|begin_of_solution|>\n\n{answer}\n\n<|end_of_solution|>"
        )
    raise ValueError(f"unknown reasoning placement {placement!r}")


def basic_reasoning(kind: str) -> str:
    return BASIC_REASONING.get(kind, BASIC_DEFAULT)


def has_stray_tags(text: str) -> bool:
    """Reasoning markers inside an answer (or reasoning) would corrupt the rendered turn."""
    return _TAGS.search(text) is not None


def split_inline_think(text: str) -> tuple[str, str, bool]:
    """Split `<think>r</think>answer` (opening tag optional) at the first closing tag.

    Returns (reasoning, answer, complete). An opening tag with no closing tag means generation
    stopped inside the reasoning: everything is reasoning and the answer is missing.
    """
    stripped = text.lstrip()
    has_open = stripped.startswith(OPEN_TAG)
    close = text.find(CLOSE_TAG)
    if close < 0:
        if has_open:
            return stripped[len(OPEN_TAG) :].strip(), "", False
        return "", text, True
    reasoning = text[:close]
    if has_open:
        reasoning = reasoning.lstrip()[len(OPEN_TAG) :]
    return reasoning.strip(), text[close + len(CLOSE_TAG) :].strip(), True


def from_openai_message(message: dict[str, Any]) -> tuple[str, str, str, bool]:
    """(reasoning, reasoning_kind, content, complete) from a chat-completions message dict."""
    content = message.get("content") or ""
    for field in ("reasoning_content", "reasoning"):
        value = message.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip(), "raw", content.strip(), True
    if CLOSE_TAG in content or content.lstrip().startswith(OPEN_TAG):
        reasoning, answer, complete = split_inline_think(content)
        return reasoning, "raw" if reasoning else "none", answer, complete
    return "", "none", content.strip(), True


def from_anthropic_blocks(blocks: list[dict[str, Any]], summarized: bool) -> tuple[str, str, str]:
    """(reasoning, reasoning_kind, content) from Messages API content blocks."""
    thinking: list[str] = []
    text: list[str] = []
    redacted = False
    for block in blocks:
        kind = block.get("type")
        if kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "redacted_thinking":
            redacted = True
        elif kind == "text":
            text.append(str(block.get("text") or ""))
    reasoning = "\n\n".join(t for t in thinking if t.strip()).strip()
    if reasoning:
        kind = "summarized" if summarized else "raw"
    elif redacted:
        kind = "redacted"
    else:
        kind = "none"
    return reasoning, kind, "".join(text).strip()

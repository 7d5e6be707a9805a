"""Normalise where each teacher puts its reasoning into (reasoning, reasoning_kind, content).

DeepSeek: `reasoning_content`; vLLM and OpenRouter: `reasoning`; some hosts: inline
`<think>…</think>` in the content, sometimes without the opening tag (R1's chat template emits it
in the prompt). Anthropic: `thinking` blocks (raw or summarized) and `redacted_thinking`.
"""

from __future__ import annotations

from typing import Any

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


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

"""Place the reasoning relative to the answer in the assistant turn."""

from __future__ import annotations


def assistant_text(reasoning: str, answer: str, placement: str) -> str:
    if placement == "drop" or not reasoning.strip():
        return answer
    if placement == "think-tags":
        return f"<think>\n{reasoning.strip()}\n</think>\n\n{answer}"
    raise ValueError(f"unknown reasoning placement {placement!r}")

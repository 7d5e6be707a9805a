"""Where the reasoning goes in the assistant turn, and what to do when there is none.

Placements: `think-tags` (`<think>\\n…\\n</think>\\n\\n` + answer, what R1-style chat templates
expect), `field` (a `reasoning_content` key beside the content, for Qwen3/R1 training templates),
`answer-tags` (`<think>…</think>` + `<answer>…</answer>`), `sky-t1` (Sky-T1's thought and
solution markers) and `drop` (the answer alone).
"""

from __future__ import annotations

import re

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

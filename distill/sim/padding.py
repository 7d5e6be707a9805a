"""Realistic reasoning lengths: pad a canned thinking trace to about N tokens.

Real reasoning models think for thousands of tokens, which is what makes max_tokens cuts, TPM
limits and batch costs bite. The padding is second-guessing filler after the trace, so the
answer content (what the graders judge) is unchanged; the same answer always pads the same way.
"""

from __future__ import annotations

import hashlib
import random

from distill.sim.answers import _SHARED, _STEPS

SPREAD = 0.3  # the padded length is uniform within ±30 % of the target
_REVISITS = (
    "Let me revisit step {n} once more.",
    "Re-checking part {n} of the argument.",
    "Pass {n}: going over the same ground again with fresh eyes.",
    "Point {n} still holds after another look.",
    "Let me re-derive item {n} from scratch to be sure.",
)
_CLOSE = "Having checked it all again, I will stay with the answer above."


def pad_rng(prompt_text: str, sample_index: int, seed: int) -> random.Random:
    """The padding's own draw, apart from the answer's, so padding never changes the answer."""
    digest = hashlib.blake2b(
        f"pad|{seed}|{sample_index}|{prompt_text}".encode(), digest_size=16
    ).digest()
    return random.Random(int.from_bytes(digest, "big"))


def pad_reasoning(reasoning: str, kind: str, target_tokens: int, rng: random.Random) -> str:
    """`reasoning` followed by filler lines up to about target_tokens (±SPREAD) in all.

    A trace already that long, or an empty one (no thinking asked for), is returned as is."""
    if target_tokens <= 0 or not reasoning:
        return reasoning
    want_chars = 4 * round(target_tokens * rng.uniform(1.0 - SPREAD, 1.0 + SPREAD))
    if len(reasoning) >= want_chars:
        return reasoning
    steps = _STEPS.get(kind, _STEPS["chat"])
    pools = (steps, _SHARED, _REVISITS)
    lines = [reasoning, ""]
    size = len(reasoning) + 1 + len(_CLOSE)
    n = 0
    while size < want_chars:
        n += 1
        pool = pools[rng.randrange(3)]
        line = pool[rng.randrange(len(pool))].format(n=n)
        lines.append(line)
        size += len(line) + 1
    lines.append(_CLOSE)
    return "\n".join(lines)

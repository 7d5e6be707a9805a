"""Mix inputs by fractions or weights: up-sample by repetition, down-sample by random subset.

Each input's target is its share of the total (`num_samples`, else every selected row): weights
0.4/0.4/0.2 over 15k/35k/52k rows give about 41k/41k/20k. An input below its target is repeated
whole as often as it fits, then topped up with a random subset; one above it is subsampled.
Export mixes its input files this way and train its datasets: the same arithmetic for both.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from distill.errors import ConfigError


def targets(sizes: Sequence[int], fractions: Sequence[float], weights: Sequence[float],
            num_samples: int) -> list[int]:  # fmt: skip
    shares = list(fractions or weights)
    if shares and len(shares) != len(sizes):
        which = "fractions" if fractions else "weights"
        raise ConfigError(
            f"export.{which} has {len(shares)} values for {len(sizes)} inputs: give one per input"
        )
    total = num_samples or sum(sizes)
    if not shares:
        if not num_samples:
            return list(sizes)
        shares = [float(s) for s in sizes]  # proportional to what each input has
    norm = sum(shares) or 1.0
    raw = [total * s / norm for s in shares]
    counts = [int(r) for r in raw]
    # Hand the rounding remainder to the largest fractional parts, so counts sum to total.
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True):
        if sum(counts) >= total:
            break
        counts[i] += 1
    return counts


T = TypeVar("T")


def pick(rows: Sequence[T], target: int, rng: random.Random) -> list[T]:
    """`target` rows drawn from `rows`: whole repeats, then a random subset (in input order)."""
    if not rows or target <= 0:
        return []
    repeats, rest = divmod(target, len(rows))
    chosen = list(rows) * repeats
    subset = sorted(rng.sample(range(len(rows)), rest))
    return chosen + [rows[i] for i in subset]

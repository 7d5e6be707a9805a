"""Duplicate prompts: exact (after normalising case and whitespace) and near (MinHash + LSH).

Near-duplicates are found among distinct prompts only, so a task's several samples cost one
signature. Shingles are hashed with crc32, not Python's salted `hash`, so the same inputs give the
same decisions in every process.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from distill.keys import content_hash

NUM_PERM = 64
BANDS = 16  # 16 bands of 4 rows: candidate pairs from about Jaccard 0.5; verified after
_PRIME = np.uint64((1 << 61) - 1)
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def prompt_key(prompt: list[dict[str, str]]) -> str:
    """The exact-duplicate key: the normalised text of every prompt turn, roles included."""
    return content_hash([[m["role"], normalise(m["content"])] for m in prompt])


class NearDuplicates:
    """Feed prompts in input order; `seen` says whether one is a near-copy of an earlier one."""

    def __init__(self, threshold: float, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, 1 << 31, NUM_PERM, dtype=np.uint64)
        self._b = rng.integers(0, 1 << 31, NUM_PERM, dtype=np.uint64)
        self._threshold = threshold
        self._rows = NUM_PERM // BANDS
        self._buckets: list[dict[bytes, list[int]]] = [{} for _ in range(BANDS)]
        self._signatures: list[np.ndarray] = []

    def signature(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        shingles = {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}
        hashes = np.fromiter(
            (zlib.crc32(s.encode()) for s in shingles), dtype=np.uint64, count=len(shingles)
        )
        # (a*x + b) mod p per permutation; a, b < 2^31 and x < 2^32 keep a*x under 2^63.
        mixed = (np.outer(self._a, hashes) + self._b[:, None]) % _PRIME
        signature: np.ndarray = mixed.min(axis=1)
        return signature

    def seen(self, text: str) -> bool:
        sig = self.signature(text)
        candidates: set[int] = set()
        keys = []
        for band in range(BANDS):
            key = sig[band * self._rows : (band + 1) * self._rows].tobytes()
            keys.append(key)
            candidates.update(self._buckets[band].get(key, ()))
        for other in candidates:
            if float(np.mean(self._signatures[other] == sig)) >= self._threshold:
                return True
        index = len(self._signatures)
        self._signatures.append(sig)
        for band, key in enumerate(keys):
            self._buckets[band].setdefault(key, []).append(index)
        return False

"""Duplicate prompts: exact (after normalising case and whitespace) and near (MinHash + LSH).

Near-duplicates are found among distinct prompts only, so a task's several samples cost one
signature. Shingles are hashed with crc32, not Python's salted `hash`, so the same inputs give the
same decisions in every process.
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

NUM_PERM = 64
BANDS = 8  # 8 bands of 8 rows: a pair at Jaccard 0.85 shares a band 92 % of the time
_PRIME = np.uint64((1 << 31) - 1)  # a, b, x below it: a*x + b fits 63 bits and wraps often
_WORD = re.compile(r"\w+")
_K1, _K2 = np.uint64(1_000_003), np.uint64(998_244_353 % ((1 << 31) - 1))  # 3-gram mixing


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def prompt_key(prompt: list[dict[str, str]]) -> str:
    """The exact-duplicate key: the normalised text of every prompt turn, roles included."""
    text = "\0".join(f"{m['role']}\0{normalise(m['content'])}" for m in prompt)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class NearDuplicates:
    """Feed prompts in input order; `seen` says whether one is a near-copy of an earlier one."""

    def __init__(self, threshold: float, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, int(_PRIME), NUM_PERM, dtype=np.uint64)
        self._b = rng.integers(0, int(_PRIME), NUM_PERM, dtype=np.uint64)
        self._threshold = threshold
        self._rows = NUM_PERM // BANDS
        # band → the first prompt seen with that band: one int per entry keeps memory small
        # (a later prompt equal in a band is found through the first one, or another band).
        self._buckets: dict[int, int] = {}
        self._word_ids: dict[str, int] = {}  # word → its hash; vocabularies repeat a lot
        self._signatures: list[np.ndarray] = []

    def signature(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower()) or [""]
        ids = self._word_ids
        for w in words:
            if w not in ids:
                ids[w] = zlib.crc32(w.encode()) % int(_PRIME)
        h = np.array([ids[w] for w in words], dtype=np.uint64)
        if len(h) >= 3:  # word 3-grams, each hashed from its three word hashes
            h = (h[:-2] * _K1 % _PRIME + h[1:-1] * _K2 % _PRIME + h[2:]) % _PRIME
        # (a*x + b) mod p per permutation: a universal hash family, one row per permutation.
        mixed = (np.outer(self._a, h) + self._b[:, None]) % _PRIME
        signature: np.ndarray = mixed.min(axis=1).astype(np.uint32)  # values are below 2^31
        return signature

    def seen(self, text: str) -> bool:
        sig = self.signature(text)
        keys = [hash((band, sig[band * self._rows : (band + 1) * self._rows].tobytes()))
                for band in range(BANDS)]  # fmt: skip
        candidates = {self._buckets[k] for k in keys if k in self._buckets}
        for other in candidates:
            if float(np.mean(self._signatures[other] == sig)) >= self._threshold:
                return True
        index = len(self._signatures)
        self._signatures.append(sig)
        for key in keys:
            self._buckets.setdefault(key, index)
        return False

"""Canonical JSON and content hashes: the one definition of "the same request".

The canonical form is a contract: changing it re-keys every cache entry, which re-pays for every
request. Sorted keys, compact separators, UTF-8 kept as is, no NaN.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

KEY_VERSION = 1


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def content_hash(value: Any) -> str:
    """A short, stable hash of any JSON-able value."""
    return hashlib.blake2b(canonical_json(value).encode("utf-8"), digest_size=16).hexdigest()


def request_key(
    *,
    provider: str,
    base_url: str,
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    sample_index: int,
) -> str:
    """Identify one paid request.

    Everything that changes what the teacher would answer is in the key; nothing else is
    (not the teacher's config name, its limits, its price table or its API key), so renaming a
    teacher or raising its rate limit costs nothing.
    """
    return content_hash(
        {
            "v": KEY_VERSION,
            "provider": provider,
            "base_url": base_url.rstrip("/"),
            "model": model,
            "messages": messages,
            "params": params,
            "sample_index": sample_index,
        }
    )

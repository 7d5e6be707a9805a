"""distill.keys: canonical JSON and request_key, the one definition of "the same request"."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from typing import Any

import pytest

from distill.keys import canonical_json, content_hash, request_key

VALUE = {"b": [1, 2.5, "é"], "a": {"y": None, "x": True}}

BASE: dict[str, Any] = {
    "provider": "openai_compat",
    "base_url": "https://api.deepseek.com/v1",
    "model": "deepseek-reasoner",
    "messages": [{"role": "user", "content": "2+2?"}],
    "params": {"max_tokens": 1024, "temperature": 0.6},
    "sample_index": 0,
}


def key(**changes: Any) -> str:
    return request_key(**(BASE | changes))


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json(VALUE) == '{"a":{"x":true,"y":null},"b":[1,2.5,"é"]}'


def test_canonical_json_ignores_key_order_at_every_depth() -> None:
    reordered = {"a": {"x": True, "y": None}, "b": [1, 2.5, "é"]}
    assert list(reordered) != list(VALUE)
    assert canonical_json(reordered) == canonical_json(VALUE)
    assert content_hash(reordered) == content_hash(VALUE)


def test_canonical_json_keeps_list_order() -> None:
    assert canonical_json([1, 2]) != canonical_json([2, 1])


def test_canonical_json_rejects_nan() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_content_hash_is_pinned() -> None:
    """The canonical form is a contract: changing it re-keys (and re-pays for) every request."""
    expected = "9505d5bfe4eaaf69fcecf6faf23e0d4f"
    digest = hashlib.blake2b(
        '{"a":{"x":true,"y":null},"b":[1,2.5,"é"]}'.encode(), digest_size=16
    ).hexdigest()
    assert digest == expected
    assert content_hash(VALUE) == expected


def test_content_hash_is_stable_across_processes() -> None:
    """No per-process salt (as str hash() has): a fresh interpreter computes the same hash."""
    code = (
        "from distill.keys import content_hash;"
        "print(content_hash({'b': [1, 2.5, 'é'], 'a': {'y': None, 'x': True}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == content_hash(VALUE)


def test_request_key_is_pinned() -> None:
    assert key() == "c3ab4755243edd26f6815e6bcdd3ff1f"


def test_request_key_is_deterministic_and_order_independent() -> None:
    assert key() == key()
    assert key(params={"temperature": 0.6, "max_tokens": 1024}) == key()
    assert key(messages=[{"content": "2+2?", "role": "user"}]) == key()


@pytest.mark.parametrize(
    "changes",
    [
        {"provider": "anthropic"},
        {"base_url": "https://openrouter.ai/api/v1"},
        {"base_url": "http://localhost:8000/v1"},
        {"model": "deepseek-chat"},
        {"messages": [{"role": "user", "content": "2+3?"}]},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "2+2?"}]},
        {"params": {"max_tokens": 2048, "temperature": 0.6}},
        {"params": {"max_tokens": 1024, "temperature": 0.6, "seed": 1}},
        {"params": {}},
        {"sample_index": 1},
    ],
)
def test_request_key_changes_with_each_input(changes: dict[str, Any]) -> None:
    assert key(**changes) != key()


def test_request_key_ignores_a_trailing_slash_on_base_url() -> None:
    assert key(base_url="https://api.deepseek.com/v1/") == key()
    assert key(base_url="https://api.deepseek.com/v1//") == key()


def test_request_key_is_a_hex_digest() -> None:
    value = key()
    assert len(value) == 32
    int(value, 16)

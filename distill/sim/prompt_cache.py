"""Prompt caching as the two APIs bill it, and the canonical request form it and /stats key on.

Anthropic caches explicitly: `cache_control` markers on system or message content blocks; the
prefix up to and including the last marked block is read from the cache (a hit) or written to it
(a miss). OpenAI caches automatically: a prompt of at least cache_min_tokens whose messages (role
and text) were seen again within the TTL has its tokens, rounded down to a multiple of 128,
reported as cached.

`cache_control` markers change what is billed, never the answer, so canonical() drops them: the
sync and batch endpoints fingerprint the same canonical body, and a request sent once with and
once without markers counts as answered twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from distill.sim.answers import text_of
from distill.sim.wire import tokens

OPENAI_CACHE_CHUNK = 128
_MAX_ENTRIES = 200_000  # past this, expired entries are swept before adding one


def strip_cache_control(value: Any) -> Any:
    """`value` without any `cache_control` key, at any depth (a copy; the input is kept)."""
    if isinstance(value, dict):
        return {k: strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_cache_control(v) for v in value]
    return value


def canonical(value: Any) -> bytes:
    """Sorted-key compact JSON of `value` without its cache_control markers."""
    return json.dumps(
        strip_cache_control(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


class CacheUse(NamedTuple):
    read: int = 0  # prompt tokens read from the cache
    written: int = 0  # prompt tokens written to it


NO_CACHE = CacheUse()


class PromptCache:
    """An in-memory map of prefix digests to their expiry; a hit pushes the expiry back."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._expiry: dict[bytes, float] = {}

    def touch(self, key: bytes) -> bool:
        """Whether `key` was cached and alive; either way it is cached for ttl_s from now."""
        now = self._clock()
        hit = self._expiry.get(key, -1.0) > now
        if not hit and len(self._expiry) >= _MAX_ENTRIES:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        self._expiry[key] = now + self.ttl_s
        return hit


def _digest(model: str, payload: bytes) -> bytes:
    digest = hashlib.blake2b(model.encode(), digest_size=16)
    digest.update(b"\0")
    digest.update(payload)
    return digest.digest()


def _blocks(content: Any) -> list[Any]:
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def _marked(block: Any) -> bool:
    return isinstance(block, dict) and isinstance(block.get("cache_control"), dict)


def anthropic_prefix(data: dict[str, Any]) -> tuple[list[Any], int] | None:
    """The cached prefix of a messages body (system, then messages, up to and including the
    last block with a cache_control marker) and its tokens; None when nothing is marked.

    Tokens follow the prompt count in answering.py: a partly cached system or message counts
    the text of its blocks up to the marker, so the prefix never exceeds the whole prompt."""
    system = data.get("system") or ""
    parts: list[tuple[str, list[Any]]] = [("system", _blocks(system))]
    for message in data.get("messages") or []:
        if isinstance(message, dict):
            parts.append((str(message.get("role", "")), _blocks(message.get("content", ""))))
    last = None
    for p, (_, blocks) in enumerate(parts):
        for b, block in enumerate(blocks):
            if _marked(block):
                last = (p, b)
    if last is None:
        return None
    p, b = last
    prefix: list[Any] = [[role, blocks] for role, blocks in parts[:p]]
    prefix.append([parts[p][0], parts[p][1][: b + 1]])
    count = sum(tokens(text_of(blocks)) for _, blocks in prefix)
    return prefix, count


class Caches:
    """The simulator's two prompt caches, shared by its sync and batch endpoints."""

    def __init__(
        self, min_tokens: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_tokens = min_tokens
        self._anthropic = PromptCache(ttl_s, clock)
        self._openai = PromptCache(ttl_s, clock)

    def anthropic(self, model: str, data: dict[str, Any]) -> CacheUse:
        found = anthropic_prefix(data)
        if found is None or found[1] < self.min_tokens:
            return NO_CACHE
        prefix, count = found
        if self._anthropic.touch(_digest(model, canonical(prefix))):
            return CacheUse(read=count)
        return CacheUse(written=count)

    def openai(self, model: str, messages: list[Any], prompt_tokens: int) -> CacheUse:
        if prompt_tokens < self.min_tokens:
            return NO_CACHE
        # Keyed by what the model reads (each message's role and text), as a tokenizer would:
        # a string and a list of one text block are the same prompt.
        said = [[m.get("role"), text_of(m.get("content"))] for m in messages if isinstance(m, dict)]
        if self._openai.touch(_digest(model, canonical(said))):
            return CacheUse(read=prompt_tokens // OPENAI_CACHE_CHUNK * OPENAI_CACHE_CHUNK)
        return NO_CACHE  # OpenAI bills no cache writes

"""Prompt caching as the two APIs bill it, and the canonical request form it and /stats key on.

Anthropic caches explicitly: `cache_control` markers on system or message content blocks; the
longest marked prefix in the cache is read from it, and the rest up to the last marked block is
written to it. OpenAI caches automatically: a prompt of at least cache_min_tokens whose messages
(role and text) were seen again within the TTL has its tokens, rounded down to a multiple of
128, reported as cached.

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


def anthropic_prefixes(data: dict[str, Any]) -> list[tuple[list[Any], int]]:
    """Each cacheable prefix of a messages body (system, then messages, up to and including a
    block with a cache_control marker) and its tokens, shortest first; empty when none is marked.

    Tokens follow the prompt count in answering.py: a partly cached system or message counts
    the text of its blocks up to the marker, so a prefix never exceeds the whole prompt."""
    system = data.get("system") or ""
    parts: list[tuple[str, list[Any]]] = [("system", _blocks(system))]
    for message in data.get("messages") or []:
        if isinstance(message, dict):
            parts.append((str(message.get("role", "")), _blocks(message.get("content", ""))))
    found = []
    for p, (role, blocks) in enumerate(parts):
        for b, block in enumerate(blocks):
            if _marked(block):
                prefix: list[Any] = [[r, bs] for r, bs in parts[:p]]
                prefix.append([role, blocks[: b + 1]])
                found.append((prefix, sum(tokens(text_of(bs)) for _, bs in prefix)))
    return found


def anthropic_prefix(data: dict[str, Any]) -> tuple[list[Any], int] | None:
    """The longest cacheable prefix (up to the last marker) and its tokens; None if unmarked."""
    found = anthropic_prefixes(data)
    return found[-1] if found else None


class Caches:
    """The simulator's two prompt caches, shared by its sync and batch endpoints."""

    def __init__(
        self, min_tokens: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_tokens = min_tokens
        self._anthropic = PromptCache(ttl_s, clock)
        self._openai = PromptCache(ttl_s, clock)

    def anthropic(self, model: str, data: dict[str, Any]) -> CacheUse:
        # As the API does: the longest marked prefix already cached is read, the rest up to the
        # last marker is written, and every marked prefix is cached from now on.
        found = [(p, n) for p, n in anthropic_prefixes(data) if n >= self.min_tokens]
        if not found:
            return NO_CACHE
        read = 0
        for prefix, count in found:
            if self._anthropic.touch(_digest(model, canonical(prefix))):
                read = max(read, count)
        return CacheUse(read=read, written=found[-1][1] - read)

    def openai(self, model: str, messages: list[Any], prompt_tokens: int) -> CacheUse:
        if prompt_tokens < self.min_tokens:
            return NO_CACHE
        # Keyed by what the model reads (each message's role and text), as a tokenizer would:
        # a string and a list of one text block are the same prompt.
        said = [[m.get("role"), text_of(m.get("content"))] for m in messages if isinstance(m, dict)]
        if self._openai.touch(_digest(model, canonical(said))):
            return CacheUse(read=prompt_tokens // OPENAI_CACHE_CHUNK * OPENAI_CACHE_CHUNK)
        return NO_CACHE  # OpenAI bills no cache writes

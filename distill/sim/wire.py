"""The simulator's wire formats: OpenAI chat completions and Anthropic messages, their errors,
and the simulator's token count. Pure functions: no server, no state."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from typing import Any

from distill.sim.server import Response


def reasoning_placement(model: str) -> str:
    """Where an OpenAI-format answer carries its reasoning, by the model name's convention."""
    low = model.lower()
    if "vllm" in low or "openrouter" in low:
        return "reasoning"
    if "think-noopen" in low:
        return "think-noopen"
    if "think" in low:
        return "think"
    return "none" if "plain" in low else "reasoning_content"


def tokens(text: str) -> int:
    """The simulator's tokenizer: four characters a token (an empty text costs nothing)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def cut_to_budget(reasoning: str, content: str, budget: int) -> tuple[str, str, bool]:
    """Spend the max_tokens budget on reasoning first, then content; report whether it cut."""
    if tokens(reasoning) >= budget and (content or tokens(reasoning) > budget):
        return reasoning[: budget * 4], "", True
    left = budget - tokens(reasoning)
    if tokens(content) > left:
        return reasoning, content[: left * 4], True
    return reasoning, content, False


_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENAI_ERRORS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "insufficient_quota",
    403: "permission_denied",
    404: "not_found",
    429: "requests",
}


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def error_response(
    anthropic: bool,
    status: int,
    message: str,
    *,
    kind: str = "",
    code: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """An error in the endpoint's own wire format."""
    if anthropic:
        etype = kind or _ANTHROPIC_ERRORS.get(status, "api_error")
        body = {"type": "error", "error": {"type": etype, "message": message}}
    else:
        etype = kind or _OPENAI_ERRORS.get(status, "server_error")
        body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    return Response(status, json_bytes(body), headers or [])


def openai_body(
    n: int,
    model: str,
    place: str,
    reasoning: str,
    content: str,
    cut: bool,
    prompt_tokens: int,
    completion: int,
    *,
    cached: int = 0,
    deepseek: bool = False,
) -> bytes:
    """A chat.completion with the reasoning where `place` (reasoning_placement) puts it.

    `cached` prompt tokens were read from the prompt cache; DeepSeek reports them twice more."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if place in ("reasoning", "reasoning_content"):
        message[place] = reasoning
    elif place != "none":  # inline; a cut inside the reasoning leaves the tag unclosed
        close = "\n</think>\n\n" if place == "think" else "</think>\n\n"
        tail = close + content if content or not cut else ""
        message["content"] = ("<think>\n" if place == "think" else "") + reasoning + tail
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "completion_tokens_details": {"reasoning_tokens": tokens(reasoning)},
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if deepseek:
        usage["prompt_cache_hit_tokens"] = cached
        usage["prompt_cache_miss_tokens"] = prompt_tokens - cached
    body = {
        "id": f"chatcmpl-sim{n:010d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "length" if cut else "stop",
                "logprobs": None,
            }
        ],
        "usage": usage,
        "system_fingerprint": "distill-sim",
    }
    return json_bytes(body)


def anthropic_body(
    n: int,
    model: str,
    reasoning: str,
    content: str,
    cut: bool,
    prompt_tokens: int,
    completion: int,
    redacted: bool,
    *,
    cache_read: int = 0,
    cache_write: int = 0,
) -> bytes:
    """A message; input_tokens are the prompt tokens neither read from nor written to the cache."""
    blocks: list[dict[str, Any]] = []
    if reasoning:
        digest = hashlib.blake2b(reasoning.encode(), digest_size=48).digest()
        if redacted:
            data = base64.b64encode(b"distill-sim-redacted:" + digest).decode()
            blocks.append({"type": "redacted_thinking", "data": data})
        else:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": reasoning,
                    "signature": base64.b64encode(digest).decode(),
                }
            )
    if content or not blocks:
        blocks.append({"type": "text", "text": content})
    return json_bytes(
        {
            "id": f"msg_sim{n:012d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": "max_tokens" if cut else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt_tokens - cache_read - cache_write,
                "output_tokens": completion,
                "cache_read_input_tokens": cache_read,
                "cache_creation_input_tokens": cache_write,
            },
        }
    )


MODELS = {
    "object": "list",
    "has_more": False,
    "data": [
        {
            "id": name,
            "object": "model",
            "type": "model",
            "display_name": name,
            "created": 0,
            "created_at": "2025-01-01T00:00:00Z",
            "owned_by": "distill-sim",
        }
        for name in (
            "sim-r1",
            "sim-vllm",
            "sim-think",
            "sim-think-noopen",
            "sim-plain",
            "sim-claude",
            "sim-claude-redacted",
        )
    ],
}

"""Anthropic Messages API, with extended thinking."""

from __future__ import annotations

from typing import Any

import httpx2

from distill.config import TeacherConfig
from distill.errors import TransientError
from distill.harvest.providers.base import (
    SAMPLE_INDEX_HEADER,
    ClientShards,
    Completion,
    parse_json_body,
    translate_sdk_error,
)
from distill.harvest.reasoning import from_anthropic_blocks
from distill.records import Usage

STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def request_params(t: TeacherConfig, sample_index: int) -> dict[str, Any]:
    """Body parameters besides model and messages: what goes into the request key."""
    params: dict[str, Any] = {"max_tokens": t.max_tokens}
    if t.thinking_budget:
        # Thinking forbids changing temperature and top_k, so they are not sent with it.
        thinking: dict[str, Any] = {"type": "enabled", "budget_tokens": t.thinking_budget}
        if t.thinking_display == "omitted":
            thinking["display"] = "omitted"
        params["thinking"] = thinking
    else:
        if t.temperature is not None:
            params["temperature"] = t.temperature
        if t.top_p is not None:
            params["top_p"] = t.top_p
    params.update(t.extra_body)
    return params


class AnthropicProvider:
    provider_name = "anthropic"

    def __init__(self, name: str, teacher: TeacherConfig, api_key: str) -> None:
        import anthropic  # the SDK takes ~2 s to import: only when this teacher is used

        self.name = name
        self.teacher = teacher
        self.base_url = teacher.base_url or "https://api.anthropic.com"
        self._secret = api_key
        self._sdk = anthropic
        self._clients = ClientShards(
            lambda http: anthropic.AsyncAnthropic(
                api_key=api_key or "not-needed",
                base_url=self.base_url.removesuffix("/v1"),
                max_retries=0,
                timeout=teacher.timeout_s,
                http_client=http,
            ),
            teacher.limits.max_in_flight,
        )

    def request_params(self, sample_index: int) -> dict[str, Any]:
        return request_params(self.teacher, sample_index)

    async def complete(
        self, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: int
    ) -> Completion:
        system = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "system")
        body: dict[str, Any] = {
            "model": self.teacher.model,
            "messages": [m for m in messages if m.get("role") != "system"],
            **params,
        }
        if system:
            body["system"] = system
        try:
            # The SDK's generic post: auth, base URL, typed errors; no per-call transform.
            response = await self._clients.next().post(
                "/v1/messages",
                body=body,
                cast_to=httpx2.Response,
                options={"headers": {SAMPLE_INDEX_HEADER: str(sample_index)}},
            )
            content = response.content
        except self._sdk.AnthropicError as exc:
            raise translate_sdk_error(exc, self.teacher, self.name, self._secret) from None
        except httpx2.HTTPError as exc:
            raise translate_sdk_error(exc, self.teacher, self.name, self._secret) from None
        data = parse_json_body(content, self.name)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise TransientError(
                f"teacher {self.name!r} sent a message without content blocks", kind="malformed"
            )
        reasoning, kind, text = from_anthropic_blocks(
            blocks, summarized=self.teacher.thinking_display == "summarized"
        )
        usage = data.get("usage") or {}
        stop = str(data.get("stop_reason") or "")
        return Completion(
            model=str(data.get("model") or self.teacher.model),
            reasoning=reasoning,
            reasoning_kind=kind,
            content=text,
            finish_reason=STOP_REASONS.get(stop, stop),
            usage=Usage(
                prompt_tokens=int(usage.get("input_tokens") or 0)
                + int(usage.get("cache_read_input_tokens") or 0),
                completion_tokens=int(usage.get("output_tokens") or 0),
                reasoning_tokens=0,
                cached_tokens=int(usage.get("cache_read_input_tokens") or 0),
            ),
            headers=response.headers,
        )

    async def aclose(self) -> None:
        await self._clients.aclose()

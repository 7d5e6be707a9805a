"""Anthropic Messages API, with extended thinking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill.config import TeacherConfig
from distill.errors import TransientError
from distill.harvest.providers.base import SDK, Completion, SDKProvider
from distill.harvest.providers.sdk_errors import SDKErrors
from distill.reasoning import from_anthropic_blocks
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


class AnthropicProvider(SDKProvider):
    provider_name = "anthropic"
    default_base_url = "https://api.anthropic.com"
    endpoint = "/v1/messages"

    def _load_sdk(self) -> SDK:
        import anthropic  # the SDK takes ~2 s to import: only when this teacher is used

        return SDK(
            anthropic.AsyncAnthropic,
            SDKErrors.of(anthropic, anthropic.AnthropicError),
            anthropic.DefaultAioHttpClient,
        )

    def _sdk_base_url(self) -> str:
        return self.base_url.removesuffix("/v1")  # the SDK's paths start with /v1

    def request_params(self, sample_index: int) -> dict[str, Any]:
        return request_params(self.teacher, sample_index)

    def _body(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        system = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "system")
        body: dict[str, Any] = {
            "model": self.teacher.model,
            "messages": [m for m in messages if m.get("role") != "system"],
            **params,
        }
        if system:
            body["system"] = system
        return body

    def _completion(self, data: dict[str, Any], headers: Mapping[str, str]) -> Completion:
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
            headers=headers,
        )

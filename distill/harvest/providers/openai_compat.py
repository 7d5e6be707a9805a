"""OpenAI chat completions: OpenAI, DeepSeek, vLLM, OpenRouter, any compatible server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill.config import TeacherConfig
from distill.errors import TransientError
from distill.harvest.providers.base import SDK, Completion, SDKProvider
from distill.harvest.providers.sdk_errors import SDKErrors
from distill.reasoning import from_openai_message
from distill.records import Usage

# deepseek-reasoner ignores these; sending them only changes the cache key.
DEEPSEEK_IGNORED = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def request_params(t: TeacherConfig, sample_index: int) -> dict[str, Any]:
    """Body parameters besides model and messages: what goes into the request key."""
    params: dict[str, Any] = {"max_tokens": t.max_tokens}
    if t.temperature is not None:
        params["temperature"] = t.temperature
    if t.top_p is not None:
        params["top_p"] = t.top_p
    if t.seed is not None:
        params["seed"] = t.seed + sample_index
    if t.model.startswith("deepseek-reasoner"):
        for key in DEEPSEEK_IGNORED:
            params.pop(key, None)
    params.update(t.extra_body)
    return params


class OpenAICompatProvider(SDKProvider):
    provider_name = "openai_compat"
    default_base_url = "https://api.openai.com/v1"
    endpoint = "/chat/completions"

    def _load_sdk(self) -> SDK:
        import openai  # imported only when a teacher of this kind is used

        return SDK(
            openai.AsyncOpenAI,
            SDKErrors.of(openai, openai.OpenAIError),
            openai.DefaultAioHttpClient,
        )

    def request_params(self, sample_index: int) -> dict[str, Any]:
        return request_params(self.teacher, sample_index)

    def _body(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.teacher.model, "messages": messages, **params}

    def _completion(self, data: dict[str, Any], headers: Mapping[str, str]) -> Completion:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise TransientError(
                f"teacher {self.name!r} sent a response without choices", kind="malformed"
            ) from None
        reasoning, kind, content, complete = from_openai_message(message)
        finish = str(choice.get("finish_reason") or "")
        if not complete and finish == "stop":
            finish = "length"  # a reasoning block that never closed: the answer is missing
        usage = data.get("usage") or {}
        details = usage.get("completion_tokens_details") or {}
        prompt_details = usage.get("prompt_tokens_details") or {}
        return Completion(
            model=str(data.get("model") or self.teacher.model),
            reasoning=reasoning,
            reasoning_kind=kind,
            content=content,
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                reasoning_tokens=int(details.get("reasoning_tokens") or 0),
                cached_tokens=int(
                    prompt_details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0
                ),
            ),
            headers=headers,
        )

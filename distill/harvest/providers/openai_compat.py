"""OpenAI chat completions: OpenAI, DeepSeek, vLLM, OpenRouter, any compatible server."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from distill.config import TeacherConfig
from distill.errors import TransientError
from distill.harvest.providers.base import SDK, Completion, SDKProvider
from distill.harvest.providers.sdk_errors import SDKErrors
from distill.keys import content_hash
from distill.reasoning import from_openai_message
from distill.records import Usage

OPENAI_HOST = "api.openai.com"
PROMPT_CACHE_KEY_CHARS = 16

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

    @functools.cached_property
    def _routes_by_cache_key(self) -> bool:
        # Only OpenAI's own API takes prompt_cache_key; vLLM or DeepSeek may refuse a field
        # they do not know.
        return urlsplit(self.base_url).hostname == OPENAI_HOST

    def _body(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        # The prompt first and the per-sample params (the seed) last, so every sample of a
        # task sends the same bytes up to its params.
        body: dict[str, Any] = {"model": self.teacher.model, "messages": messages}
        if self.teacher.prompt_cache and self._routes_by_cache_key:
            # OpenAI caches by itself; the key sends a task's samples to the same cache. It is
            # wire-only: not in request_params, so not in the request key.
            body["prompt_cache_key"] = prompt_cache_key(messages)
        body.update(params)
        return body

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


def prompt_cache_key(messages: list[dict[str, Any]]) -> str:
    """A short hash of the prompt: the same for every sample of a task."""
    return content_hash(messages)[:PROMPT_CACHE_KEY_CHARS]

"""OpenAI chat completions: OpenAI, DeepSeek, vLLM, OpenRouter, any compatible server."""

from __future__ import annotations

from collections.abc import Mapping
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
from distill.harvest.reasoning import from_openai_message
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


class OpenAICompatProvider:
    provider_name = "openai_compat"

    def __init__(self, name: str, teacher: TeacherConfig, api_key: str) -> None:
        import openai  # imported only when a teacher of this kind is used

        self.name = name
        self.teacher = teacher
        self.base_url = teacher.base_url or "https://api.openai.com/v1"
        self._secret = api_key
        self._sdk = openai
        self._clients = ClientShards(
            lambda http: openai.AsyncOpenAI(
                api_key=api_key or "not-needed",
                base_url=self.base_url,
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
        body = {"model": self.teacher.model, "messages": messages, **params}
        try:
            # The SDK's generic post: its auth, base URL and typed errors, without the
            # per-call TypedDict transform of create() (1.6 ms of CPU a request).
            response = await self._clients.next().post(
                "/chat/completions",
                body=body,
                cast_to=httpx2.Response,
                options={"headers": {SAMPLE_INDEX_HEADER: str(sample_index)}},
            )
            raw = response.content
        except self._sdk.OpenAIError as exc:
            raise translate_sdk_error(exc, self.teacher, self.name, self._secret) from None
        except httpx2.HTTPError as exc:
            raise translate_sdk_error(exc, self.teacher, self.name, self._secret) from None
        data = parse_json_body(raw, self.name)
        return self._completion(data, response.headers)

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

    async def aclose(self) -> None:
        await self._clients.aclose()

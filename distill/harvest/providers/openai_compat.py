"""OpenAI chat completions: OpenAI, DeepSeek, vLLM, OpenRouter, any compatible server."""

from __future__ import annotations

from typing import Any

import httpx2

from distill.config import TeacherConfig
from distill.harvest.providers.base import (
    SAMPLE_INDEX_HEADER,
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

    def __init__(
        self, name: str, teacher: TeacherConfig, api_key: str, http: httpx2.AsyncClient
    ) -> None:
        self.name = name
        self.teacher = teacher
        self.base_url = teacher.base_url or "https://api.openai.com/v1"
        self._secret = api_key
        import openai  # imported only when a teacher of this kind is used

        self._sdk = openai
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed",
            base_url=self.base_url,
            max_retries=0,
            timeout=teacher.timeout_s,
            http_client=http,
        )

    def request_params(self, sample_index: int) -> dict[str, Any]:
        return request_params(self.teacher, sample_index)

    async def complete(
        self, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: int
    ) -> Completion:
        known = {
            k: v for k, v in params.items() if k in ("max_tokens", "temperature", "top_p", "seed")
        }
        extra = {k: v for k, v in params.items() if k not in known}
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=self.teacher.model,
                messages=messages,  # type: ignore[arg-type]
                extra_body=extra or None,
                extra_headers={SAMPLE_INDEX_HEADER: str(sample_index)},
                **known,
            )
            body = raw.content
        except self._sdk.OpenAIError as exc:
            raise translate_sdk_error(exc, self.teacher, self.name, self._secret) from None
        except httpx2.HTTPError as exc:
            raise translate_sdk_error(exc, self.teacher, self.name, self._secret) from None
        data = parse_json_body(body, self.name)
        return self._completion(data, dict(raw.headers))

    def _completion(self, data: dict[str, Any], headers: dict[str, str]) -> Completion:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            from distill.errors import TransientError

            raise TransientError(f"teacher {self.name!r} sent a response without choices") from None
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
        await self._client.close()

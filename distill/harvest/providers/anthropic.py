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
EPHEMERAL = {"type": "ephemeral"}
MAX_CACHE_BREAKPOINTS = 4  # the Messages API refuses a request with more cache_control blocks


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
        # The prompt (system, then messages) comes first and the per-sample params last, so
        # every sample of a task sends the same bytes up to its params.
        system = system_of(messages)
        body: dict[str, Any] = {"model": self.teacher.model}
        if system:
            body["system"] = system
        body["messages"] = [m for m in messages if m.get("role") != "system"]
        # The rendered system prompt wins over an extra_body one, as it always has.
        body.update((k, v) for k, v in params.items() if not (k == "system" and system))
        if self.teacher.prompt_cache:
            body = with_cache_markers(body)
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
        stop = str(data.get("stop_reason") or "")
        return Completion(
            model=str(data.get("model") or self.teacher.model),
            reasoning=reasoning,
            reasoning_kind=kind,
            content=text,
            finish_reason=STOP_REASONS.get(stop, stop),
            usage=usage_of(data.get("usage") or {}),
            headers=headers,
        )


def usage_of(usage: Mapping[str, Any]) -> Usage:
    """Usage from the API's: its input_tokens leaves out the tokens read from and written to
    the cache, distill's prompt_tokens counts every input token."""
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    return Usage(
        prompt_tokens=int(usage.get("input_tokens") or 0) + read + written,
        completion_tokens=int(usage.get("output_tokens") or 0),
        reasoning_tokens=0,
        cached_tokens=read,
        cache_write_tokens=written,
    )


def system_of(messages: list[dict[str, Any]]) -> str | list[Any]:
    """The system messages as the `system` field: their texts joined, or content blocks when
    one of them already is blocks (a user's own cache_control markers are kept)."""
    contents = [m.get("content") or "" for m in messages if m.get("role") == "system"]
    if all(isinstance(c, str) for c in contents):
        return "\n\n".join(str(c) for c in contents)
    return [block for c in contents for block in _blocks(c)]


def _blocks(content: Any) -> list[Any]:
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": str(content)}] if content else []


def _markers(value: Any) -> int:
    """cache_control markers anywhere in `value` (system, messages, tools)."""
    if isinstance(value, dict):
        return int("cache_control" in value) + sum(_markers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_markers(v) for v in value)
    return 0


def _marked_last(content: Any) -> list[Any] | None:
    """`content` as blocks with cache_control on the last one (copies: the request's messages
    are shared by all of a task's samples); None when there is nothing to mark or it is."""
    blocks = _blocks(content)
    if not blocks or not isinstance(blocks[-1], dict) or "cache_control" in blocks[-1]:
        return None
    return [*blocks[:-1], {**blocks[-1], "cache_control": dict(EPHEMERAL)}]


def with_cache_markers(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with cache breakpoints at the end of the prompt (what a task's samples share) and
    at the end of the system prompt (what every task shares), within the API's limit of four.

    The last user message is marked first: with one breakpoint left it is worth more."""
    free = MAX_CACHE_BREAKPOINTS - _markers(body)
    body = dict(body)
    messages = list(body.get("messages") or [])
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if free > 0 and users:
        content = _marked_last(messages[users[-1]].get("content"))
        if content is not None:
            messages[users[-1]] = {**messages[users[-1]], "content": content}
            body["messages"] = messages
            free -= 1
    system = _marked_last(body.get("system")) if free > 0 else None
    if system is not None:
        body["system"] = system
    return body

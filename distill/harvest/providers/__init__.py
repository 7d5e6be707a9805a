"""Teacher providers by name, and the request shape each one sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distill.config import TeacherConfig
from distill.harvest.providers import anthropic as anthropic_provider
from distill.harvest.providers import openai_compat
from distill.harvest.providers.base import Completion, Provider, SDKProvider

__all__ = ["Completion", "Provider", "base_url_of", "make_provider", "request_params"]

PROVIDERS: dict[str, type[SDKProvider]] = {
    cls.provider_name: cls
    for cls in (openai_compat.OpenAICompatProvider, anthropic_provider.AnthropicProvider)
}
# What goes into the request key for each provider, without building a client.
_PARAMS: dict[str, Callable[[TeacherConfig, int], dict[str, Any]]] = {
    "openai_compat": openai_compat.request_params,
    "anthropic": anthropic_provider.request_params,
}


def base_url_of(teacher: TeacherConfig) -> str:
    return (teacher.base_url or PROVIDERS[teacher.provider].default_base_url).rstrip("/")


def request_params(teacher: TeacherConfig, sample_index: int) -> dict[str, Any]:
    return _PARAMS[teacher.provider](teacher, sample_index)


def make_provider(name: str, teacher: TeacherConfig, api_key: str) -> Provider:
    return PROVIDERS[teacher.provider](name, teacher, api_key)

"""Teacher providers by name, and the request shape each one sends."""

from __future__ import annotations

from typing import Any

from distill.config import TeacherConfig
from distill.harvest.providers import anthropic as anthropic_provider
from distill.harvest.providers import openai_compat
from distill.harvest.providers.base import Completion, Provider

__all__ = ["Completion", "Provider", "base_url_of", "make_provider", "request_params"]

DEFAULT_BASE_URLS = {
    "openai_compat": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


def base_url_of(teacher: TeacherConfig) -> str:
    return (teacher.base_url or DEFAULT_BASE_URLS[teacher.provider]).rstrip("/")


def request_params(teacher: TeacherConfig, sample_index: int) -> dict[str, Any]:
    if teacher.provider == "anthropic":
        return anthropic_provider.request_params(teacher, sample_index)
    return openai_compat.request_params(teacher, sample_index)


def make_provider(name: str, teacher: TeacherConfig, api_key: str) -> Provider:
    if teacher.provider == "anthropic":
        return anthropic_provider.AnthropicProvider(name, teacher, api_key)
    return openai_compat.OpenAICompatProvider(name, teacher, api_key)

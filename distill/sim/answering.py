"""One request body in, one answer body out: the code path the sync and the batch endpoints share,
so a batch item is answered exactly as the same body sent to /v1/chat/completions or /v1/messages.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from distill.records import Task
from distill.sim.answers import TaskIndex, generate_answer, text_of
from distill.sim.config import SimConfig
from distill.sim.padding import pad_reasoning, pad_rng
from distill.sim.prompt_cache import Caches, CacheUse, canonical
from distill.sim.wire import (
    anthropic_body,
    cut_to_budget,
    openai_body,
    reasoning_placement,
    tokens,
)

DEFAULT_MAX_TOKENS = 32768
BAD_BODY = "request body must be a JSON object with 'model' and a 'messages' list"
BAD_BUDGET = "max_tokens must be a positive integer"
CHAT_ENDPOINT, MESSAGES_ENDPOINT = "/v1/chat/completions", "/v1/messages"


class Parsed(NamedTuple):
    """A request body that passed the checks, with what answering and the limits need."""

    data: dict[str, Any]
    anthropic: bool
    prompt: str  # the last user message's text: what the task index matches
    prompt_tokens: int
    budget: int  # max_tokens as sent; 0 when none was


class Built(NamedTuple):
    body: bytes
    prompt_tokens: int
    completion: int  # completion tokens
    reasoning: int  # the part of them spent reasoning
    cache: CacheUse


def parse(data: Any, anthropic: bool) -> Parsed | str:
    """The request, or the message of the 400 it gets."""
    if not isinstance(data, dict):
        return BAD_BODY
    messages = data.get("messages")
    if not isinstance(messages, list) or not isinstance(data.get("model", ""), str):
        return BAD_BODY
    system = text_of(data.get("system", "")) if anthropic else ""
    dicts = [m for m in messages if isinstance(m, dict)]
    prompt_tokens = tokens(system) + sum(tokens(text_of(m.get("content"))) for m in dicts)
    budget = data.get("max_completion_tokens") or data.get("max_tokens") or 0
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        return BAD_BUDGET
    users = [m for m in dicts if m.get("role") == "user"]
    prompt = text_of(users[-1].get("content")) if users else ""
    return Parsed(data, anthropic, prompt, prompt_tokens, budget)


def fingerprint_key(req: Parsed, sample_index: int) -> tuple[str, str, bytes]:
    """What /stats counts duplicates by: the endpoint, the sample index and the canonical body
    (cache_control markers dropped), the same for a sync request and a batch item."""
    endpoint = MESSAGES_ENDPOINT if req.anthropic else CHAT_ENDPOINT
    return endpoint, str(sample_index), canonical(req.data)


def task_p_correct(task: Task | None, default: float) -> float:
    """A task's own chance of a right answer (meta.sim_p_correct in 0..1), else the global one."""
    value = task.meta.get("sim_p_correct") if task is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return default


class Answerer:
    """Deterministic answers in the wire format, with prompt caching; ids count up."""

    def __init__(self, config: SimConfig, tasks: TaskIndex) -> None:
        self.config = config
        self._tasks = tasks
        self.caches = Caches(config.cache_min_tokens, config.cache_ttl_s)
        self._ids = 0

    def build(self, req: Parsed, sample_index: int) -> Built:
        cfg, data = self.config, req.data
        model = str(data.get("model") or "sim-r1")
        task = self._tasks.match(req.prompt)
        p_correct = task_p_correct(task, cfg.p_correct)
        ans = generate_answer(req.prompt, task, sample_index, cfg.seed, p_correct)
        low = model.lower()
        place = reasoning_placement(low)
        if req.anthropic:
            thinking = data.get("thinking")
            think = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
        else:
            think = place != "none"
        reasoning = ans.reasoning if think else ""
        if cfg.reasoning_tokens and reasoning:
            rng = pad_rng(req.prompt, sample_index, cfg.seed)
            kind = task.kind if task is not None else "chat"
            reasoning = pad_reasoning(reasoning, kind, cfg.reasoning_tokens, rng)
        budget = req.budget or DEFAULT_MAX_TOKENS
        reasoning, content, cut = cut_to_budget(reasoning, ans.content, budget)
        completion = tokens(reasoning) + tokens(content)
        self._ids += 1
        if req.anthropic:
            cache = self.caches.anthropic(model, data)
            body = anthropic_body(
                self._ids,
                model,
                reasoning,
                content,
                cut,
                req.prompt_tokens,
                completion,
                redacted="redacted" in low,
                cache_read=cache.read,
                cache_write=cache.written,
            )
        else:
            cache = self.caches.openai(model, data["messages"], req.prompt_tokens)
            body = openai_body(
                self._ids,
                model,
                place,
                reasoning,
                content,
                cut,
                req.prompt_tokens,
                completion,
                cached=cache.read,
                deepseek=low.startswith("deepseek"),
            )
        return Built(body, req.prompt_tokens, completion, tokens(reasoning), cache)

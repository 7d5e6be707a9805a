"""Default prices (USD per million tokens) for common teachers, used when a teacher's config
sets none. Prices change: a `[teachers.NAME.price]` table in config always wins, and the
spend figures are estimates from reported usage, not invoices."""

from __future__ import annotations

from dataclasses import dataclass

from distill.config import Price, TeacherConfig
from distill.records import Usage

BATCH_DISCOUNT = 0.5  # OpenAI's Batch API and Anthropic's Message Batches: half price
ANTHROPIC_CACHE_WRITE = 1.25  # times the input price, for the 5-minute cache

# Longest matching model-name prefix wins. Checked against the providers' price pages in 2026.
DEFAULT_PRICES: dict[str, Price] = {
    "deepseek-reasoner": Price(input=0.55, cached_input=0.14, output=2.19),
    "deepseek-chat": Price(input=0.27, cached_input=0.07, output=1.10),
    "claude-opus-4": Price(input=15.0, cached_input=1.5, output=75.0, cache_write=18.75),
    "claude-sonnet-4": Price(input=3.0, cached_input=0.3, output=15.0, cache_write=3.75),
    "claude-haiku-4": Price(input=1.0, cached_input=0.1, output=5.0, cache_write=1.25),
    "claude-3-7-sonnet": Price(input=3.0, cached_input=0.3, output=15.0, cache_write=3.75),
    "gpt-4.1": Price(input=2.0, cached_input=0.5, output=8.0),
    "gpt-4.1-mini": Price(input=0.4, cached_input=0.1, output=1.6),
    "gpt-4o": Price(input=2.5, cached_input=1.25, output=10.0),
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.6),
    "o3": Price(input=2.0, cached_input=0.5, output=8.0),
    "o4-mini": Price(input=1.1, cached_input=0.275, output=4.4),
}


def price_of(teacher: TeacherConfig) -> Price:
    if teacher.price != Price():
        return teacher.price
    model = teacher.model.lower()
    matches = [prefix for prefix in DEFAULT_PRICES if model.startswith(prefix)]
    return DEFAULT_PRICES[max(matches, key=len)] if matches else Price()


@dataclass(frozen=True)
class Rates:
    """The four prices one request pays, USD per million tokens, batch discount applied."""

    input: float
    cached_input: float
    cache_write: float
    output: float


def rates_of(price: Price, batch: bool = False) -> Rates:
    write = price.input if price.cache_write is None else price.cache_write
    if not batch:
        return Rates(price.input, price.cached_input, write, price.output)

    def half(given: float | None, sync: float) -> float:
        return sync * BATCH_DISCOUNT if given is None else given

    return Rates(
        half(price.batch_input, price.input),
        half(price.batch_cached_input, price.cached_input),
        write * BATCH_DISCOUNT,
        half(price.batch_output, price.output),
    )


def cost_usd(price: Price, usage: Usage, batch: bool = False) -> float:
    """What `usage` cost: prompt_tokens counts cache reads and writes too."""
    r = rates_of(price, batch)
    fresh = max(0, usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens)
    return (
        fresh * r.input
        + usage.cached_tokens * r.cached_input
        + usage.cache_write_tokens * r.cache_write
        + usage.completion_tokens * r.output
    ) / 1e6


def cache_saving_usd(price: Price, usage: Usage, batch: bool = False) -> float:
    """What prompt caching saved on `usage` against the same prompt sent uncached (a cache
    write's surcharge counts against it)."""
    r = rates_of(price, batch)
    return (
        usage.cached_tokens * (r.input - r.cached_input)
        - usage.cache_write_tokens * (r.cache_write - r.input)
    ) / 1e6

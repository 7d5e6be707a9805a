"""Default prices (USD per million tokens) for common teachers, used when a teacher's config
sets none. Prices change: a `[teachers.NAME.price]` table in config always wins, and the
spend figures are estimates from reported usage, not invoices."""

from __future__ import annotations

from distill.config import Price, TeacherConfig

# Longest matching model-name prefix wins. Checked against the providers' price pages in 2026.
DEFAULT_PRICES: dict[str, Price] = {
    "deepseek-reasoner": Price(input=0.55, cached_input=0.14, output=2.19),
    "deepseek-chat": Price(input=0.27, cached_input=0.07, output=1.10),
    "claude-opus-4": Price(input=15.0, cached_input=1.5, output=75.0),
    "claude-sonnet-4": Price(input=3.0, cached_input=0.3, output=15.0),
    "claude-haiku-4": Price(input=1.0, cached_input=0.1, output=5.0),
    "claude-3-7-sonnet": Price(input=3.0, cached_input=0.3, output=15.0),
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


def cost_usd(price: Price, prompt: int, cached: int, completion: int) -> float:
    uncached = max(0, prompt - cached)
    return (uncached * price.input + cached * price.cached_input + completion * price.output) / 1e6

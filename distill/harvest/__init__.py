"""Harvest: send task prompts to teachers under rate limits, cached, crash-safe."""

from distill.harvest.runner import HarvestResult, HarvestStats, run_harvest

__all__ = ["HarvestResult", "HarvestStats", "run_harvest"]

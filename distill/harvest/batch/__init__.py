"""Batch teachers (mode = "batch"): the OpenAI Batch API and Anthropic Message Batches.

The runner and the adaptive driver use one BatchLane per batch teacher (lane.py); the state of
its open batches lives in <out>/batches/ (store.py), one API adapter per provider speaks to the
server (openai_api.py, anthropic_api.py) through the sync provider's SDK client.
"""

from distill.harvest.batch.lane import BatchLane

__all__ = ["BatchLane"]

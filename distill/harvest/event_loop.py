"""The event loop harvest runs on: uvloop where it is installed (Linux, macOS), else asyncio's.

uvloop's loop does the same work with less CPU per request; the client, not the teacher, is
what limits a fast local server. `DISTILL_EVENT_LOOP=asyncio` forces the standard loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    if os.environ.get("DISTILL_EVENT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def loop_name() -> str:
    return "uvloop" if loop_factory() is not None else "asyncio"

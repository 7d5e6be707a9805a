"""`distill import`: task sources (dataset importers, merge mining). Registered by cli.py."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser) -> None:  # fmt: skip
    """Add the `import` verb (filled in by the task-sources work)."""

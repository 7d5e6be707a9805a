"""`distill train` and `distill eval`: the student. Registered by cli.py."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser) -> None:  # fmt: skip
    """Add the `train` and `eval` verbs (filled in by the trainer work)."""

"""`distill status` and `distill report`: what the nightly runs did. Registered by cli.py."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser) -> None:  # fmt: skip
    """Add the `status` and `report` verbs (filled in by the reporting work)."""

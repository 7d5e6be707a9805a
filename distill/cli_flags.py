"""Command-line flags that stand for config keys: `--set` overrides, with paths from the cwd.

A path in the config file is relative to that file; a path typed as a flag is relative to where
the user typed it, so flags become absolute paths before they reach the config.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any

# Flag values that are not paths although the flag usually takes one.
_KEYWORDS = {"resume_from_checkpoint": ("latest",)}


def flag_overrides(args: argparse.Namespace, flags: Mapping[str, tuple[str, bool]]) -> list[str]:
    """`KEY=JSON` overrides for the flags given; `flags` maps attribute → (key, is a path)."""
    out = []
    for attr, (key, is_path) in flags.items():
        value: Any = getattr(args, attr, None)
        if value is None:
            continue
        if is_path:
            value = [_from_cwd(v, attr) for v in value] if isinstance(value, list) else (
                _from_cwd(value, attr))  # fmt: skip
        out.append(f"{key}={json.dumps(value)}")
    return out


def _from_cwd(value: str, attr: str) -> str:
    if value in _KEYWORDS.get(attr, ()):
        return value
    path = os.path.abspath(os.path.expanduser(value))
    # A hub id (org/name) that is not a local folder stays as it is.
    hub_id = attr == "base_model" and not os.path.exists(path) and value.count("/") == 1
    return value if hub_id and not value.startswith((".", "/", "~")) else path

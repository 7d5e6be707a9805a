"""Field metadata that makes a config key a command-line flag: one definition of each flag.

    max_cost_usd: float = flag(0.0, "stop sending new requests at this spend", name="--max-cost")

The CLI builds its argparse options and its `--set` overrides from these (distill.cli.flags);
the config itself never reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Flag:
    help: str = ""
    name: str = ""  # the flag as typed; default --FIELD-NAME
    metavar: str | None = None
    path: bool = False  # typed on the command line, a path is taken from the cwd, not the file
    hub_id: bool = False  # a path flag that may also be a hub id (org/name) when no such folder
    many: Literal["comma", "repeat", "spaced"] = "comma"  # how a list is typed: a,b | -x a -x b
    const: str | None = None  # the value of the flag given bare (and not a path)
    only_true: bool = False  # a switch that can only turn the key on, e.g. --refresh


def flag(default: Any, help: str = "", **spec: Any) -> Any:
    """A dataclass field with `default` that is also a flag (see Flag for `spec`)."""
    return field(default=default, metadata={"flag": Flag(help, **spec)})


def flag_of(f: dataclasses.Field[Any]) -> Flag | None:
    spec = f.metadata.get("flag")
    return spec if isinstance(spec, Flag) else None

"""The optional `train` extra: a one-line error when it is missing, and an offline environment."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from distill.errors import ConfigError, InputError

INSTALL_HINT = "install it with: pip install -e '.[train]'"
MODULES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


class TrainExtraMissing(ConfigError):
    """torch / transformers / trl / peft is not installed."""


def require_train_extra(verb: str, modules: tuple[str, ...] = MODULES) -> None:
    """Import the ML stack once, or fail with one line saying what to install."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise TrainExtraMissing(
                f"`distill {verb}` needs the train extra ({', '.join(MODULES)}), "
                f"but {name} cannot be imported ({exc}); {INSTALL_HINT}"
            ) from None


def go_offline(allow_hub: bool) -> None:
    """No telemetry ever; no hub calls unless a hub id was asked for.

    Set before transformers/trl are imported: huggingface_hub reads these at import time.
    """
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not allow_hub:
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ.setdefault(name, "1")


def quiet_hf(debug: bool = False) -> None:
    """No progress bars or info chatter from the HF libraries: distill logs what matters."""
    import warnings

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    if not debug:
        transformers.utils.logging.set_verbosity_error()
        datasets.utils.logging.set_verbosity_error()
    # Raised inside peft/trl on every model load; nothing a user can act on.
    warnings.filterwarnings(
        "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
    )


def load_pretrained(loader: Callable[..., Any], name: str, where: str, **kwargs: Any) -> Any:
    """`loader(name)` (a from_pretrained); a missing or broken model becomes one clear line."""
    try:
        return loader(name, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{where}: cannot load {name}: {first[:300]}") from None

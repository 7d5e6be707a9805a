"""Where the bundled prompt library and example tasks live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_prompts_dir() -> Path:
    """The repository's prompts/ in a checkout or editable install; the packaged copy otherwise."""
    checkout = _PACKAGE.parent / "prompts"
    if (checkout / "library.toml").exists():
        return checkout
    return _PACKAGE / "_bundled" / "prompts"


def example_task_files() -> list[Path]:
    return sorted((bundled_prompts_dir() / "examples").glob("*.jsonl"))

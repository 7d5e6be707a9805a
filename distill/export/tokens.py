"""Count tokens with the student's tokenizer, for the `max_tokens` filter (never truncation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distill.errors import ConfigError


def load_counter(where: str) -> Callable[[str], int]:
    """A tokenizer.json file, or a model directory holding one, via the `tokenizers` library."""
    path = Path(where)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(
            f"export.tokenizer: {where} is not a tokenizer.json or a directory holding one"
        )
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError(
            "export.max_tokens needs the `tokenizers` package: pip install tokenizers"
        ) from None
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises its own untyped errors
        raise ConfigError(f"export.tokenizer: cannot load {path}: {exc}") from None

    def count(text: str) -> int:
        try:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)
        except Exception as exc:  # e.g. a vocabulary without its unknown token
            raise ConfigError(f"export.tokenizer: {path} cannot encode rows: {exc}") from None

    return count

"""Tokenize rows once, with the assistant mask; check the mask on real rows; never truncate.

The trainer gets `input_ids` + `assistant_masks` from here (TRL builds its labels from that
mask), so what is checked is exactly what is trained. Rows longer than `max_length` are dropped
or split at turn boundaries, and counted: truncation would cut the answer or the end-of-turn
token and teach the model to think forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from distill.errors import ConfigError
from distill.train.data import DataReport, Messages, Row, answer_text, reasoning_text
from distill.train.data import split_at_turns as split_conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Encoded:
    input_ids: list[int]
    assistant_masks: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_ids": self.input_ids,
            "assistant_masks": self.assistant_masks,
            "length": len(self.input_ids),
        }


def encode(tokenizer: Any, messages: Messages) -> Encoded:
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return Encoded(list(out["input_ids"]), list(out["assistant_masks"]))


def encode_rows(
    tokenizer: Any, rows: list[Row], max_length: int, overlong: str, report: DataReport | None
) -> list[Encoded]:
    """Every row that fits; longer ones dropped (or split at turns with overlong = split)."""
    kept: list[Encoded] = []
    for row in rows:
        enc = encode(tokenizer, row.messages)
        if len(enc.input_ids) <= max_length:
            kept.append(enc)
            continue
        if overlong != "split":
            if report is not None:
                report.dropped["overlong"] += 1
            continue
        pieces, lost = split_conversation(
            row.messages, lambda m: len(encode(tokenizer, m).input_ids) <= max_length
        )
        if report is not None and not pieces:
            report.dropped["overlong"] += 1  # not one exchange fits: the whole row is gone
        elif report is not None:
            report.split_pieces += len(pieces)
            if lost:
                report.dropped["overlong_exchange"] += lost  # lost from rows that still train
        kept.extend(encode(tokenizer, p) for p in pieces)
    return kept


@dataclass(frozen=True)
class MaskExample:
    """One rendered row: what the model sees as context and what it is trained to write."""

    where: str
    context: str
    trained: str
    trained_tokens: int
    total_tokens: int


def check_masks(
    tokenizer: Any, rows: list[Row], template: str, eot: str
) -> tuple[str, MaskExample]:
    """Check the mask on real rows before training; return the end-of-turn token and an example.

    Each checked row must: mark some tokens; leave the prompt unmarked; cover the answer, the
    reasoning (when the row has some) and end on the end-of-turn token. `eot` "" means the
    template's own (a model template): it is learned from the first row as the last marked
    special token.
    """
    example: MaskExample | None = None
    for row in rows:
        problem, eot, shown = _check_one(tokenizer, row.messages, eot)
        if problem:
            raise ConfigError(
                f"train.chat_template = {template!r}: {problem} (checked on {row.where}); "
                'use chat_template = "chatml" (or instruct, chat) or a template whose assistant '
                "turn, end-of-turn token included, sits inside {% generation %}…{% endgeneration %}"
            )
        if example is None:
            example = MaskExample(row.where, *shown)
    if example is None:
        raise ConfigError("train: no rows to check the loss mask on (the training set is empty)")
    return eot, example


def _check_one(
    tokenizer: Any, messages: Messages, eot: str
) -> tuple[str, str, tuple[str, str, int, int]]:
    enc = encode(tokenizer, messages)
    ids, mask = enc.input_ids, enc.assistant_masks
    marked = [t for t, m in zip(ids, mask, strict=True) if m]
    shown = (
        tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if not m]),
        tokenizer.decode(marked),
        len(marked),
        len(ids),
    )
    if not marked:
        return "the template marks no assistant tokens (no {% generation %} markers?)", eot, shown
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=True, return_dict=True, add_generation_prompt=True
    )["input_ids"]
    if list(prompt) == ids[: len(prompt)]:
        # A newline after the assistant header may sit inside the block (TRL's Qwen copies).
        leaked = [t for t, m in zip(prompt, mask, strict=False) if m]
        if tokenizer.decode(leaked).strip():
            return "the template marks prompt tokens as assistant tokens", eot, shown
    last = _last_real_token(tokenizer, marked)
    if not eot:
        added = set(tokenizer.get_added_vocab().values()) | set(tokenizer.all_special_ids)
        if last not in added:
            return "the assistant's end-of-turn token is outside the mask", eot, shown
        eot = tokenizer.convert_ids_to_tokens(last)
    elif last != tokenizer.convert_tokens_to_ids(eot):
        return f"the assistant's end-of-turn token {eot} is outside the mask", eot, shown
    trained = _squash(shown[1])
    answer, reasoning = answer_text(messages), reasoning_text(messages)
    if answer.strip() and _squash(answer)[-40:] not in trained:
        return "the answer is not inside the mask", eot, shown
    if reasoning.strip() and _squash(reasoning)[:40] not in trained:
        return "the reasoning is not inside the mask (does the template drop it?)", eot, shown
    return "", eot, shown


def _last_real_token(tokenizer: Any, ids: list[int]) -> int:
    for token in reversed(ids):
        if tokenizer.decode([token]).strip():
            return int(token)
    return int(ids[-1])


def _squash(text: str) -> str:
    """Compare text across decode round trips: whitespace is not reliably preserved."""
    return "".join(text.split())

"""One output row per example, in the field names each trainer reads (research/trainer_formats.md).

- `messages`: `{"messages": [...]}`, TRL conversational and OpenAI chat fine-tuning; optional
  per-assistant-turn `weight` (OpenAI: 0 or 1).
- `prompt-completion`: `{"prompt", "completion", "metadata"}` (TRL standard prompt-completion).
- `alpaca`: `instruction`, `input`, `output` (+ `system`, `history` pairs, as LLaMA-Factory reads).
- `sharegpt`: `conversations` of `from` human/gpt (+ `system`).
- `text`: one string through a template: `chatml`, `instruct`, `chat`.
- `dpo`: TRL `prompt`/`chosen`/`rejected` (conversational) or OpenAI
  `input`/`preferred_output`/`non_preferred_output`; `kto`: `prompt`/`completion`/`label`.
"""

from __future__ import annotations

from typing import Any

from distill.config import ExportConfig
from distill.export.examples import Example
from distill.reasoning import assistant_text


def assistant_message(ex: Example, settings: ExportConfig) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": assistant_text(ex.reasoning, ex.answer, settings.reasoning),
    }
    if settings.reasoning == "field" and ex.reasoning.strip():
        message["reasoning_content"] = ex.reasoning.strip()
    return message


def emit(ex: Example, settings: ExportConfig) -> dict[str, Any]:
    """A row for every format but the paired ones (dpo), which use `emit_pair`."""
    answer = assistant_message(ex, settings)
    fmt = settings.format
    if fmt == "messages":
        prompt = [dict(m) for m in ex.prompt]
        if settings.turn_weights:
            for m in prompt:
                if m["role"] == "assistant":
                    m["weight"] = 0
            answer["weight"] = 1
        return {"messages": [*prompt, answer]}
    if fmt == "prompt-completion":
        return {
            "prompt": _flat_prompt(ex.prompt),
            "completion": answer["content"],
            "metadata": ex.metadata,
        }
    if fmt == "alpaca":
        return _alpaca(ex.prompt, answer["content"])
    if fmt == "sharegpt":
        return _sharegpt(ex.prompt, answer["content"])
    if fmt == "text":
        return {"text": render_text([*ex.prompt, answer], settings.template)}
    if fmt == "kto":
        return {
            "prompt": ex.prompt,
            "completion": [answer],
            "label": ex.status == "pass",
        }
    raise ValueError(f"format {fmt!r} needs pairs")


def emit_pair(chosen: Example, rejected: Example, settings: ExportConfig) -> dict[str, Any]:
    good, bad = assistant_message(chosen, settings), assistant_message(rejected, settings)
    if settings.dpo_style == "openai":
        # OpenAI's DPO schema has no reasoning field: the content carries what is trained.
        good.pop("reasoning_content", None)
        bad.pop("reasoning_content", None)
        return {
            "input": {"messages": chosen.prompt},
            "preferred_output": [good],
            "non_preferred_output": [bad],
        }
    return {"prompt": chosen.prompt, "chosen": [good], "rejected": [bad]}


def _flat_prompt(prompt: list[dict[str, Any]]) -> str:
    """System text, then the user turn: string prompt-completion rows hold one exchange."""
    return "\n\n".join(m["content"] for m in prompt if m["content"])


def _alpaca(prompt: list[dict[str, Any]], output: str) -> dict[str, Any]:
    system = "\n\n".join(m["content"] for m in prompt if m["role"] == "system")
    turns = [m for m in prompt if m["role"] != "system"]
    history = [
        [turns[i]["content"], turns[i + 1]["content"]]
        for i in range(0, len(turns) - 1, 2)
        if turns[i]["role"] == "user" and turns[i + 1]["role"] == "assistant"
    ]
    row: dict[str, Any] = {"instruction": turns[-1]["content"], "input": "", "output": output}
    if system:
        row["system"] = system
    if history:
        row["history"] = history
    return row


def _sharegpt(prompt: list[dict[str, Any]], output: str) -> dict[str, Any]:
    speaker = {"user": "human", "assistant": "gpt"}
    row: dict[str, Any] = {}
    system = "\n\n".join(m["content"] for m in prompt if m["role"] == "system")
    if system:
        row["system"] = system
    row["conversations"] = [
        {"from": speaker[m["role"]], "value": m["content"]} for m in prompt if m["role"] in speaker
    ] + [{"from": "gpt", "value": output}]
    return row


def render_text(messages: list[dict[str, Any]], template: str) -> str:
    if template == "chatml":
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    parts = []
    for m in messages:
        if template == "instruct":
            label = {"system": "", "user": "### Instruction:\n", "assistant": "### Response:\n"}
        else:
            label = {"system": "", "user": "Human: ", "assistant": "Assistant: "}
        parts.append(label.get(m["role"], f"{m['role']}: ") + m["content"])
    return "\n\n".join(parts) + "\n"

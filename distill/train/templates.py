"""Chat templates that can mask: the assistant turn sits inside `{% generation %}`.

`chatml`, `instruct` and `chat` render the prompt exactly as export's `text` format does (same
labels, same separators), put the assistant's reasoning (`reasoning_content`) in `<think>` tags
and end the assistant turn with its end-of-turn token *inside* the generation block, so the
model is trained to stop. `model` takes the base model's own template, or TRL's training copy of
it for the families TRL knows; any template is refused when it cannot mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import ConfigError

_THINK = r"""
{%- if message['reasoning_content'] is defined and message['reasoning_content'] -%}
{{- '<think>\n' + message['reasoning_content'] | trim + '\n</think>\n\n' -}}
{%- endif -%}"""

CHATML = (
    r"""{%- for message in messages -%}
{%- if message['role'] == 'assistant' -%}
{{- '<|im_start|>assistant\n' -}}
{%- generation -%}"""
    + _THINK
    + r"""
{{- message['content'] + '<|im_end|>' -}}
{%- endgeneration -%}
{{- '\n' -}}
{%- else -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}"""
)


def _labelled(user: str, assistant: str, space: str) -> str:
    """`### Instruction:` / `Human:` style: turns joined by a blank line, EOS ends the answer.

    A space after the assistant label goes inside the generation block, so the prompt alone
    tokenizes as a prefix of prompt + answer (no stray trailing-space token at inference).
    """
    return (
        r"""{%- for message in messages -%}
{%- if not loop.first -%}{{- '\n\n' -}}{%- endif -%}
{%- if message['role'] == 'assistant' -%}
{{- '"""
        + assistant
        + r"""' -}}
{%- generation -%}
{{- '"""
        + space
        + "' -}}"
        + _THINK
        + r"""
{{- message['content'] + eos_token -}}
{%- endgeneration -%}
{%- elif message['role'] == 'user' -%}{{- '"""
        + user
        + r"""' + message['content'] -}}
{%- elif message['role'] == 'system' -%}{{- message['content'] -}}
{%- else -%}{{- message['role'] + ': ' + message['content'] -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '\n\n"""
        + assistant
        + r"""' -}}{%- endif -%}"""
    )


INSTRUCT = _labelled(r"### Instruction:\n", r"### Response:\n", "")
CHAT = _labelled("Human: ", "Assistant:", " ")
BUILTIN = {"chatml": CHATML, "instruct": INSTRUCT, "chat": CHAT}


@dataclass(frozen=True)
class ChosenTemplate:
    name: str  # model | chatml | instruct | chat | the .jinja path
    text: str
    eot_token: str  # the token that ends an assistant turn ("" = learned from a masked row)
    patched_by_trl: bool = False


def choose_template(tokenizer: Any, choice: str, path: Path | None, base: str) -> ChosenTemplate:
    """The template to train with; a ConfigError (one line, with the fix) when it cannot mask."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    fix = 'set train.chat_template = "chatml" (or instruct, chat)'
    if choice == "chatml":
        missing = [t for t in ("<|im_start|>", "<|im_end|>") if not _is_one_token(tokenizer, t)]
        if missing:
            raise ConfigError(
                f'train.chat_template = "chatml": the tokenizer of {base} has no '
                f'{" / ".join(missing)} token; use chat_template = "instruct" or "chat" '
                '(they end turns with the EOS token), or "model"'
            )
        return ChosenTemplate(choice, CHATML, "<|im_end|>")
    if choice in BUILTIN:
        if not tokenizer.eos_token:
            raise ConfigError(
                f"train.chat_template = {choice!r}: the tokenizer of {base} has no EOS token to "
                'end the assistant turn; use chat_template = "chatml" or "model"'
            )
        return ChosenTemplate(choice, BUILTIN[choice], tokenizer.eos_token)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"train.chat_template: cannot read {path} ({exc.strerror})") from None
        if not has_generation_markers(text):
            raise ConfigError(
                f"train.chat_template: {path} has no {{% generation %}} markers, so the loss "
                "cannot be limited to assistant turns; wrap the assistant turn (and its "
                f"end-of-turn token) in {{% generation %}}…{{% endgeneration %}} or {fix}"
            )
        return ChosenTemplate(str(path), text, "")
    own = tokenizer.chat_template
    if isinstance(own, dict):
        own = own.get("default")
    if not own:
        raise ConfigError(f'train.chat_template = "model": {base} has no chat template; {fix}')
    if has_generation_markers(own):
        return ChosenTemplate("model", own, "")
    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:
        raise ConfigError(
            f'train.chat_template = "model": the chat template of {base} cannot mask '
            "assistant turns (no {% generation %} markers, and TRL has no training copy of "
            f"it); {fix}, or give a .jinja file with generation markers"
        ) from None
    return ChosenTemplate("model", patched or own, "", patched_by_trl=patched is not None)


def _is_one_token(tokenizer: Any, text: str) -> bool:
    ids = tokenizer.encode(text, add_special_tokens=False)
    return len(ids) == 1 and ids[0] != tokenizer.unk_token_id


def renders_reasoning_field(tokenizer: Any) -> bool:
    """Does the active template show a `reasoning_content` key? (Many templates drop it.)"""
    marker = "zqxreasoningmarkerzqx"
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": marker},
    ]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
    except Exception:  # a template may reject unknown keys; then it does not render them
        return False
    return marker in str(text)

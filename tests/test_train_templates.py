"""The shipped chat templates: same text as export's `text` format, a mask that covers the
assistant turn and its end-of-turn token exactly, and clear refusals for what cannot mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
pytest.importorskip("trl")

from distill.errors import ConfigError
from distill.export.formats import render_text
from distill.train.data import FIELD, Row
from distill.train.encode import check_masks, encode, encode_rows
from distill.train.templates import BUILTIN, choose_template, renders_reasoning_field

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 6 times 7?"},
    {"role": "assistant", "content": "<think>\n6*7 is 42.\n</think>\n\nThe answer is 42."},
]


def _tokenizer(special: tuple[str, ...] = ("<|im_start|>", "<|im_end|>")) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<eos>", *special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([m["content"] for m in CONVERSATION] * 5, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>")


@pytest.mark.parametrize("name", ["chatml", "instruct", "chat"])
def test_builtin_templates_render_exports_text_and_mask_the_answer(name: str) -> None:
    tokenizer = _tokenizer()
    chosen = choose_template(tokenizer, name, None, "tiny")
    tokenizer.chat_template = chosen.text
    rendered = tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    eot = "<|im_end|>" if name == "chatml" else "<eos>"
    assert chosen.eot_token == eot
    # What the trainer renders is what `distill export --format text` writes (+ the EOS).
    text = render_text(CONVERSATION, name)
    if name == "chatml":
        assert rendered == text
    else:
        assert rendered == text.removesuffix("\n") + eot
    enc = encode(tokenizer, CONVERSATION)
    trained = tokenizer.decode(
        [t for t, m in zip(enc.input_ids, enc.assistant_masks, strict=True) if m]
    )
    space = " " if name == "chat" else ""  # the label's space is trained, not left dangling
    assert trained == space + CONVERSATION[-1]["content"] + eot
    # The prompt alone is a token prefix: inference sees what training saw.
    prompt = tokenizer.apply_chat_template(
        CONVERSATION[:-1], tokenize=True, return_dict=True, add_generation_prompt=True
    )["input_ids"]
    assert enc.input_ids[: len(prompt)] == list(prompt)
    assert renders_reasoning_field(tokenizer)
    found, example = check_masks(tokenizer, [Row(CONVERSATION, "x:1")], name, chosen.eot_token)
    assert found == eot and example.trained == trained


def test_reasoning_field_renders_like_inline_think_tags() -> None:
    tokenizer = _tokenizer()
    tokenizer.chat_template = BUILTIN["chatml"]
    field = [
        *CONVERSATION[:2],
        {"role": "assistant", "content": "The answer is 42.", FIELD: "6*7 is 42."},
    ]
    assert tokenizer.apply_chat_template(field, tokenize=False) == tokenizer.apply_chat_template(
        CONVERSATION, tokenize=False
    )


def test_overlong_rows_are_dropped_or_split_and_counted() -> None:
    from distill.train.data import DataReport

    tokenizer = _tokenizer()
    tokenizer.chat_template = BUILTIN["chatml"]
    two_turns = [*CONVERSATION, {"role": "user", "content": "And 6 times 8?"},
                 {"role": "assistant", "content": "48."}]  # fmt: skip
    one = len(encode(tokenizer, CONVERSATION).input_ids)
    both = len(encode(tokenizer, two_turns).input_ids)
    report = DataReport()
    kept = encode_rows(tokenizer, [Row(two_turns, "x:1")], both - 1, "drop", report)
    assert kept == [] and report.dropped["overlong"] == 1
    report = DataReport()
    kept = encode_rows(tokenizer, [Row(two_turns, "x:1")], one, "split", report)
    assert len(kept[0].input_ids) == one and report.split_pieces == 2
    assert all(len(k.input_ids) <= one for k in kept)


def test_templates_that_cannot_work_are_refused(tmp_path: Path) -> None:
    plain = _tokenizer(special=())
    with pytest.raises(
        ConfigError, match=r'chatml": the tokenizer of tiny has no <\|im_start\|> / <\|im_end\|>'
    ):
        choose_template(plain, "chatml", None, "tiny")
    with pytest.raises(ConfigError, match='"model": tiny has no chat template'):
        choose_template(plain, "model", None, "tiny")
    jinja = tmp_path / "t.jinja"
    jinja.write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    with pytest.raises(ConfigError, match=r"t.jinja has no \{% generation %\} markers"):
        choose_template(plain, str(jinja), jinja, "tiny")
    plain.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    with pytest.raises(ConfigError, match="TRL has no training copy of it"):
        choose_template(plain, "model", None, "tiny")


@pytest.mark.parametrize("family", ["qwen2_5", "qwen3"])
def test_model_templates_of_known_families_get_trls_training_copy(family: str) -> None:
    """`chat_template = "model"` on a Qwen tokenizer: TRL's training template, checked on a row."""
    import trl

    tokenizer = _tokenizer()
    own = (Path(trl.__file__).parent / "chat_templates" / f"{family}.jinja").read_text()
    tokenizer.chat_template = own
    chosen = choose_template(tokenizer, "model", None, family)
    assert chosen.patched_by_trl and chosen.text != own and chosen.eot_token == ""
    tokenizer.chat_template = chosen.text
    # Qwen3 reads reasoning_content itself; Qwen2.5 would drop it, so it gets inline tags.
    assert renders_reasoning_field(tokenizer) == (family == "qwen3")
    eot, example = check_masks(tokenizer, [Row(CONVERSATION, "x:1")], "model", chosen.eot_token)
    assert eot == "<|im_end|>"  # learned from the template: the last trained special token
    assert "The answer is 42." in example.trained and "6*7 is 42." in example.trained
    assert "What is 6 times 7?" in example.context

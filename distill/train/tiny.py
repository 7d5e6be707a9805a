"""A randomly initialised causal LM and a BPE tokenizer trained on your rows, with no download.

For tests, benchmarks and dry runs of the trainer where no weights can be fetched: the mechanics
(masking, LoRA, checkpoints, merge, generation) are real, the answers are noise. `0.5b` has the
shape of Qwen2.5-0.5B (about 494M parameters) for throughput figures on a GPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from distill.errors import InputError
from distill.jsonl import iter_jsonl

SPECIAL = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab": 1024},
    "small": {"hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 4,
              "num_attention_heads": 8, "num_key_value_heads": 2, "vocab": 4096},
    "0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
             "num_attention_heads": 14, "num_key_value_heads": 2, "vocab": 151936},
}  # fmt: skip


def corpus_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every message text (and reasoning) of `messages` rows: what the tokenizer should cover."""
    texts = []
    for row in rows:
        for m in row.get("messages", []):
            texts.append(str(m.get("content", "")))
            if m.get("reasoning_content"):
                texts.append(str(m["reasoning_content"]))
    return texts


def build_tiny_model(
    directory: Path, corpus: list[str], size: str = "tiny", seed: int = 0, chat_template: str = ""
) -> Path:
    """Write a model directory (config, weights, tokenizer) that from_pretrained loads offline."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    shape = dict(SIZES[size])
    vocab = shape.pop("vocab")
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=min(vocab, 8192),
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus or ["hello world"], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|pad|>"
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=max(vocab, len(tokenizer)),
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **shape,
    )
    model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def main(argv: list[str] | None = None) -> int:
    """`python -m distill.train.tiny OUT_DIR ROWS.jsonl...`: a random student to try the trainer."""
    import argparse
    import logging

    parser = argparse.ArgumentParser(prog="python -m distill.train.tiny", description=main.__doc__)
    parser.add_argument("out", type=Path, help="model directory to write")
    parser.add_argument(
        "rows", type=Path, nargs="+", help="messages JSONL to train the tokenizer on"
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    args = parser.parse_args(argv)
    try:
        rows = [row for path in args.rows for _, row in iter_jsonl(path)]
    except InputError as exc:  # a bad rows file: one line naming file:line, no traceback
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    build_tiny_model(args.out, corpus_of(rows), size=args.size)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger(__name__).info(
        "random %s model written to %s (not a trained model)", args.size, args.out
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

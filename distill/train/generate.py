"""Load a student (merged model or adapter) and generate answers for chat prompts, batched."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from distill.errors import ConfigError
from distill.train.extra import load_pretrained

log = logging.getLogger(__name__)

STUDENT_FILE = "distill_student.json"  # base model, template and end-of-turn token of a student


@dataclass(frozen=True, slots=True)
class Generation:
    text: str  # reasoning markers included, end-of-turn token removed
    finish_reason: str  # "stop": it ended its turn; "length": it ran into max_new_tokens
    prompt_tokens: int
    completion_tokens: int


def pick_device(choice: str) -> str:
    import torch

    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_student(model_dir: Path, base_model: str, device: str) -> tuple[Any, Any, list[int]]:
    """(model, tokenizer, end-of-turn ids) from a merged model or a LoRA adapter directory.

    An adapter is loaded onto its base (from distill_student.json or the given base_model), not
    through the absolute path PEFT writes into adapter_config.json, so a moved base still loads.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (
        not (model_dir / "config.json").exists()
        and not (model_dir / "adapter_config.json").exists()
    ):
        raise ConfigError(
            f"{model_dir}: not a model or adapter directory (no config.json or "
            "adapter_config.json); run `distill train` or set train.eval.model"
        )
    meta = read_student_meta(model_dir)
    dtype = _dtype(device)
    where = "train.eval.model"
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, str(model_dir), where)
    if (model_dir / "adapter_config.json").exists():
        from peft import PeftModel

        base = meta.get("base_model") or base_model or _adapter_base(model_dir)
        model = load_pretrained(
            AutoModelForCausalLM.from_pretrained, base, "the adapter's base model", dtype=dtype
        )
        model = load_pretrained(partial(PeftModel.from_pretrained, model), str(model_dir), where)
    else:
        model = load_pretrained(
            AutoModelForCausalLM.from_pretrained, str(model_dir), where, dtype=dtype
        )
    model.to(device).eval()
    eot_ids = stop_ids(tokenizer, model, meta.get("eot_token", ""))
    return model, tokenizer, eot_ids


def read_student_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / STUDENT_FILE
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _adapter_base(model_dir: Path) -> str:
    config = json.loads((model_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return str(config.get("base_model_name_or_path") or "")


def _dtype(device: str) -> Any:
    import torch

    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def stop_ids(tokenizer: Any, model: Any, eot_token: str) -> list[int]:
    ids: list[int] = []
    if eot_token:
        ids.append(int(tokenizer.convert_tokens_to_ids(eot_token)))
    configured = model.generation_config.eos_token_id
    for value in configured if isinstance(configured, list) else [configured]:
        if value is not None and int(value) not in ids:
            ids.append(int(value))
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(int(tokenizer.eos_token_id))
    return ids


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[list[dict[str, Any]]],
    *,
    eot_ids: list[int],
    max_new_tokens: int,
    temperature: float = 0.0,
    batch_size: int = 8,
    seed: int = 0,
) -> list[Generation]:
    """Answer each chat prompt; left-padded batches, stopping at any end-of-turn id."""
    import torch

    torch.manual_seed(seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eot_ids[0]
    device = next(model.parameters()).device
    encoded = [
        list(
            tokenizer.apply_chat_template(
                p, tokenize=True, return_dict=True, add_generation_prompt=True
            )["input_ids"]
        )
        for p in prompts
    ]
    results: list[Generation] = []
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch], device=device)
        attention = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device
        )
        with torch.no_grad():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=max_new_tokens,
                eos_token_id=eot_ids,
                pad_token_id=pad,
                **sampling,
            )
        for ids, row in zip(batch, out[:, width:].tolist(), strict=True):
            results.append(_decode(tokenizer, row, eot_ids, len(ids)))
    return results


def _decode(tokenizer: Any, new: list[int], eot_ids: list[int], prompt_tokens: int) -> Generation:
    stop = next((i for i, t in enumerate(new) if t in eot_ids), None)
    kept = new if stop is None else new[:stop]
    # Keep special tokens: <think> is one in many vocabularies, and it must reach the grader.
    text = tokenizer.decode(kept, skip_special_tokens=False)
    return Generation(text, "length" if stop is None else "stop", prompt_tokens, len(kept))

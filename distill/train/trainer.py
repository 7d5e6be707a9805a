"""build_trainer / run_train: LoRA SFT on TRL's SFTTrainer with PEFT, on rows encoded here.

Order matters for a user's time: every input and setting is checked (splits exist, the template
can mask, rows fit) before the model is loaded, and all of it before the first step.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.config import Config, TrainConfig
from distill.errors import ConfigError, InputError
from distill.train.data import (
    DataReport,
    Row,
    mix,
    place_reasoning,
    read_split,
    resolve,
    student_dir,
    train_files,
    val_files,
)
from distill.train.encode import Encoded, MaskExample, check_masks, encode_rows
from distill.train.extra import go_offline, load_pretrained, quiet_hf, require_train_extra
from distill.train.generate import pick_device
from distill.train.templates import ChosenTemplate, choose_template, renders_reasoning_field

log = logging.getLogger(__name__)

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass
class TrainSession:
    """Everything decided before the first step; `trainer` is a ready TRL SFTTrainer."""

    trainer: Any
    tokenizer: Any
    base_model: str
    template: ChosenTemplate
    eot_token: str
    reasoning: str
    device: str
    precision: str
    out: Path
    report: DataReport
    val_report: DataReport
    mask_example: MaskExample
    train_rows: list[Encoded]
    val_rows: list[Encoded]
    val_prompts: list[Row] = field(default_factory=list)


def base_model_of(config: Config) -> tuple[str, bool]:
    """(directory or hub id, is a hub id). Only a hub id may go online."""
    value = config.train.base_model.strip()
    if not value:
        raise ConfigError(
            f"{config.source}: train.base_model is empty; set it to a model directory "
            "(or a hub id), e.g. --base-model ./models/Qwen2.5-0.5B-Instruct"
        )
    path = resolve(config, value)
    if path.is_dir():
        return str(path), False
    if _HUB_ID.fullmatch(value) and not value.startswith("."):
        return value, True
    raise InputError(f"train.base_model: {path} is not a model directory (nor a hub id)")


def load_rows(config: Config) -> tuple[list[Row], list[Row], DataReport]:
    report = DataReport()
    datasets = [(path, read_split(path, config)) for path in train_files(config)]
    rows = mix(datasets, config, report)
    val: list[Row] = []
    for path in val_files(config):
        val.extend(read_split(path, config, "train.val_datasets"))
    return rows, val, report


def build_trainer(config: Config) -> TrainSession:
    settings = config.train
    base, hub = base_model_of(config)
    rows, val, report = load_rows(config)  # before the slow imports: a missing split fails fast
    if not rows:
        raise InputError(f"{train_files(config)[0]}: the training split has no rows")
    go_offline(allow_hub=hub)
    require_train_extra("train")
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTTrainer

    quiet_hf(debug=log.isEnabledFor(logging.DEBUG))
    if settings.threads:
        torch.set_num_threads(settings.threads)
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, base, "train.base_model")
    jinja = settings.chat_template
    path = resolve(config, jinja) if jinja.endswith((".jinja", ".j2")) else None
    template = choose_template(tokenizer, jinja, path, base)
    tokenizer.chat_template = template.text
    reasoning = _reasoning_mode(settings.reasoning, renders_reasoning_field(tokenizer))
    rows = [Row(place_reasoning(r.messages, reasoning), r.where) for r in rows]
    val = [Row(place_reasoning(r.messages, reasoning), r.where) for r in val]
    eot, example = check_masks(
        tokenizer, rows[: settings.mask_check_rows], template.name, template.eot_token
    )
    log.info(
        "loss mask checked on %d rows; end of turn: %s",
        min(len(rows), settings.mask_check_rows),
        eot,
    )
    log.debug("trained part of %s: %r", example.where, example.trained[:500])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = eot
    encoded = encode_rows(tokenizer, rows, settings.max_length, settings.overlong, report)
    val_report = DataReport(files={str(p): 0 for p in val_files(config)})
    val_encoded = encode_rows(tokenizer, val, settings.max_length, settings.overlong, val_report)
    report.rows, val_report.rows = len(encoded), len(val_encoded)
    if not encoded:
        raise ConfigError(
            f"train: all {len(rows)} rows are longer than train.max_length = "
            f'{settings.max_length} tokens; raise it or set train.overlong = "split"'
        )
    if report.dropped:
        log.warning("train: dropped %s (never truncated)", dict(report.dropped))

    device = pick_device(settings.device)
    precision = _precision(settings.precision, device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    model = load_pretrained(
        AutoModelForCausalLM.from_pretrained, base, "train.base_model", dtype=dtype
    )
    out = student_dir(config)
    has_val = bool(val_encoded)
    args = _sft_config(settings, out, device, precision, has_val, eot)
    from datasets import Dataset

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list([e.to_dict() for e in encoded]),
        eval_dataset=Dataset.from_list([e.to_dict() for e in val_encoded]) if has_val else None,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=settings.lora_rank,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=_targets(settings.lora_target_modules),
            task_type="CAUSAL_LM",
        ),
        callbacks=[_progress_log()],
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw dicts; ProgressLog logs lines
    return TrainSession(
        trainer=trainer,
        tokenizer=tokenizer,
        base_model=base,
        template=template,
        eot_token=eot,
        reasoning=reasoning,
        device=device,
        precision=precision,
        out=out,
        report=report,
        val_report=val_report,
        mask_example=example,
        train_rows=encoded,
        val_rows=val_encoded,
        val_prompts=val or rows,
    )


def _sft_config(
    settings: TrainConfig, out: Path, device: str, precision: str, has_val: bool, eot: str
) -> Any:
    from trl import SFTConfig

    checkpointing = settings.gradient_checkpointing == "on" or (
        settings.gradient_checkpointing == "auto" and device == "cuda"
    )
    sampling = "group_by_length" if settings.group_by_length and not settings.packing else "random"
    return SFTConfig(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size or settings.batch_size,
        gradient_accumulation_steps=settings.grad_accumulation,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=settings.weight_decay,
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit,
        eval_strategy="steps" if has_val and settings.eval_steps else "no",
        eval_steps=settings.eval_steps or None,
        bf16=precision == "bf16",  # SFTConfig's default is bf16 even on a CPU: 3x slower there
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        activation_checkpointing=checkpointing,
        gradient_checkpointing=None,  # the deprecated alias; SFTConfig defaults it to True
        max_length=settings.max_length,  # rows are already within it: TRL never truncates
        packing=settings.packing,
        train_sampling_strategy=sampling,  # similar lengths per batch: less padding computed
        eos_token=eot,  # the end of turn becomes the merged model's stop token
        seed=settings.seed,
        data_seed=settings.seed,
        report_to="none",
        disable_tqdm=True,  # progress goes through logging (ProgressLog): readable in cron mail
    )


def _reasoning_mode(mode: str, renders_field: bool) -> str:
    if mode == "field" and not renders_field:
        raise ConfigError(
            'train.reasoning = "field": the chat template ignores reasoning_content, so the '
            'reasoning would not be trained; use reasoning = "think-tags" (or "auto")'
        )
    if mode == "auto":
        return "field" if renders_field else "think-tags"
    return mode


def _precision(choice: str, device: str) -> str:
    import torch

    if choice != "auto":
        if choice != "fp32" and device == "cpu":
            log.warning("train.precision = %s on the CPU is slow; fp32 is faster there", choice)
        return choice
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"  # bf16 autocast on a CPU is ~3x slower, and its logits drift from fp32


def _targets(modules: tuple[str, ...]) -> str | list[str]:
    return "all-linear" if modules == ("all-linear",) else list(modules)


def _progress_log() -> Any:
    from transformers import TrainerCallback

    class ProgressLog(TrainerCallback):  # type: ignore[misc]
        """Loss lines through logging instead of tqdm bars: readable in a cron mail."""

        def __init__(self) -> None:
            self.started = time.monotonic()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            logs = logs or {}
            shown = {k: v for k, v in logs.items() if k in ("loss", "eval_loss", "learning_rate")}
            if shown:
                parts = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
                log.info("step %d/%d  %s", state.global_step, state.max_steps, parts)

    return ProgressLog()

"""The `[train]` table and its `[train.eval]`: the student, trained and then graded.

Every flagged key of TrainConfig is a `distill train` flag, of StudentEvalConfig a `distill eval`
flag (see distill.cli.flags for which verb reads which table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from distill.config.fields import flag


@dataclass(frozen=True)
class StudentEvalConfig:
    """`distill eval`: the student answers the held-out tasks and the same graders grade it."""

    model: str = flag(  # "" = the one `distill train` wrote
        "", "merged model or adapter (default: the trained one)", metavar="DIR", path=True
    )
    base_url: str = flag(  # instead of a local model
        "", "an OpenAI-compatible server serving the student", metavar="URL"
    )
    server_model: str = flag("", "the student's name on that server", metavar="NAME")
    api_key_env: str = flag(  # "" = none needed
        "", "env var holding the server's key", metavar="VAR"
    )
    split: str = flag("", "held-out rows (default OUTPUT_DIR/val.jsonl)", metavar="FILE", path=True)
    max_new_tokens: int = flag(1024)
    temperature: float = flag(0.0, "0 = greedy")
    samples_per_task: int = flag(1)
    batch_size: int = 8  # local generation batch
    max_tasks: int = flag(0, "evaluate the first N held-out tasks")  # 0 = every held-out task
    output_dir: str = flag(  # or output_dir/eval/SERVER_MODEL for a server
        "", "where to write (default MODEL/eval)", name="--eval-dir", metavar="DIR", path=True
    )
    max_in_flight: int = 8  # server requests at once
    timeout_s: float = 600.0


@dataclass(frozen=True)
class TrainConfig:
    """`distill train`: LoRA SFT on the exported splits (TRL + PEFT, the `train` extra)."""

    base_model: str = flag(  # a model directory, or a hub id (the only case that goes online)
        "", "the model to adapt", metavar="DIR|HUB_ID", path=True, hub_id=True
    )
    datasets: tuple[str, ...] = flag(
        (), "a training split (repeatable; default: OUTPUT_DIR/train.jsonl)",
        name="--dataset", metavar="FILE", path=True, many="repeat",
    )  # fmt: skip
    dataset_weights: tuple[float, ...] = flag(
        (), "one weight per --dataset: up/down-sampled as export does", metavar="W", many="spaced"
    )
    num_samples: int = 0  # rows after mixing; 0 = as many as the datasets hold
    val_datasets: tuple[str, ...] = flag(  # used when it has rows
        (), "a validation split (repeatable; default: OUTPUT_DIR/val.jsonl)",
        name="--val-dataset", metavar="FILE", path=True, many="repeat",
    )  # fmt: skip
    output_dir: str = flag(
        "", "where train writes the student (default OUTPUT_DIR/student)",
        name="--student-dir", metavar="DIR", path=True,
    )  # fmt: skip
    chat_template: str = flag(
        "model",
        "model (its own), chatml, instruct, chat, or a .jinja file with generation markers",
        metavar="NAME|FILE",
    )
    reasoning: Literal["auto", "think-tags", "field", "drop"] = flag(
        "auto",
        "where the reasoning goes: auto keeps the export's placement if the template "
        "renders reasoning_content, else inline <think> tags",
    )
    max_length: int = flag(4096, "longest row in tokens; longer ones never truncated")
    overlong: Literal["drop", "split"] = flag("drop", "what to do with longer rows")  # or split
    lora_rank: int = flag(16)
    lora_alpha: int = flag(32)
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] = ("all-linear",)
    epochs: float = flag(1.0)
    max_steps: int = flag(0, "steps to train; overrides --epochs")  # > 0 overrides epochs
    learning_rate: float = flag(2e-4)
    lr_scheduler: Literal[
        "linear", "cosine", "cosine_with_min_lr", "constant", "constant_with_warmup"
    ] = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    batch_size: int = flag(4)
    grad_accumulation: int = flag(4)
    eval_batch_size: int = 0  # 0 = batch_size
    packing: bool = flag(False)
    group_by_length: bool = True  # batches of similar length: less padding, same data
    gradient_checkpointing: Literal["auto", "on", "off"] = "auto"  # auto: on for GPUs
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 where supported
    device: Literal["auto", "cpu", "cuda", "mps"] = flag("auto")
    threads: int = 0  # torch CPU threads; 0 = torch's default
    logging_steps: int = 10
    eval_steps: int = 0  # validation loss every N steps; 0 = at the end only
    save_steps: int = 200
    save_total_limit: int = 2
    resume_from_checkpoint: str = flag(  # "" | "latest" | a checkpoint directory
        "", "resume from the latest checkpoint, or from CKPT",
        metavar="CKPT", path=True, const="latest",
    )  # fmt: skip
    merge_adapters: bool = flag(
        False, "also save base + adapter merged, with tokenizer and chat template"
    )
    do_gen_test: bool = flag(False, "generate for a few validation prompts after training")
    gen_test_prompts: int = 3
    gen_max_new_tokens: int = 256
    mask_check_rows: int = 16  # rows whose loss mask is checked before training
    seed: int = 0
    eval: StudentEvalConfig = field(default_factory=StudentEvalConfig)

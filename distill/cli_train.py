"""`distill train` and `distill eval`: the student. Registered by cli.py.

Every flag is a `train.*` config key (see TrainConfig); paths given as flags are relative to the
current directory, paths in the config file to the file. torch & co. are imported only when a
command runs.
"""

from __future__ import annotations

import argparse

from distill.cli_flags import flag_overrides

# flag attribute → (config key, is a path)
TRAIN_FLAGS: dict[str, tuple[str, bool]] = {
    "base_model": ("train.base_model", True),
    "chat_template": ("train.chat_template", False),
    "reasoning": ("train.reasoning", False),
    "datasets": ("train.datasets", True),
    "dataset_weights": ("train.dataset_weights", False),
    "val_datasets": ("train.val_datasets", True),
    "student_dir": ("train.output_dir", True),
    "epochs": ("train.epochs", False),
    "max_steps": ("train.max_steps", False),
    "learning_rate": ("train.learning_rate", False),
    "batch_size": ("train.batch_size", False),
    "grad_accumulation": ("train.grad_accumulation", False),
    "lora_rank": ("train.lora_rank", False),
    "lora_alpha": ("train.lora_alpha", False),
    "max_length": ("train.max_length", False),
    "overlong": ("train.overlong", False),
    "packing": ("train.packing", False),
    "device": ("train.device", False),
    "resume_from_checkpoint": ("train.resume_from_checkpoint", True),  # or "latest"
    "merge_adapters": ("train.merge_adapters", False),
    "do_gen_test": ("train.do_gen_test", False),
}
EVAL_FLAGS: dict[str, tuple[str, bool]] = {
    "model": ("train.eval.model", True),
    "base_url": ("train.eval.base_url", False),
    "server_model": ("train.eval.server_model", False),
    "api_key_env": ("train.eval.api_key_env", False),
    "split": ("train.eval.split", True),
    "eval_dir": ("train.eval.output_dir", True),
    "max_new_tokens": ("train.eval.max_new_tokens", False),
    "max_tasks": ("train.eval.max_tasks", False),
    "samples_per_task": ("train.eval.samples_per_task", False),
    "temperature": ("train.eval.temperature", False),
    "student_dir": ("train.output_dir", True),
    "device": ("train.device", False),
}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the `train` and `eval` verbs."""
    train = sub.add_parser(
        "train",
        parents=[common],
        help="LoRA-train the student on the exported splits (needs the train extra)",
        description="LoRA SFT (TRL + PEFT) on train.jsonl/val.jsonl: loss on assistant turns "
        "only, long rows dropped or split (never truncated), checkpoints, merge, a generation "
        "test. Every flag is a train.* key of the config.",
    )
    _train_flags(train)
    train.set_defaults(func=_cmd_train)
    ev = sub.add_parser(
        "eval",
        parents=[common],
        help="grade the student on the held-out tasks beside the teacher",
        description="The student (a local model or adapter, or an OpenAI-compatible server) "
        "answers the validation split's tasks; the pipeline's graders grade the answers; pass "
        "rates per task kind, teacher and student side by side, go to eval.json beside the model.",
    )
    _eval_flags(ev)
    ev.set_defaults(func=_cmd_eval)


def _train_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-model", metavar="DIR|HUB_ID", help="the model to adapt")
    p.add_argument(
        "--chat-template",
        metavar="NAME|FILE",
        help="model (its own), chatml, instruct, chat, or a .jinja file with generation markers",
    )
    p.add_argument(
        "--reasoning",
        choices=["auto", "think-tags", "field", "drop"],
        help="where the reasoning goes: auto keeps the export's placement if the template "
        "renders reasoning_content, else inline <think> tags",
    )
    p.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        metavar="FILE",
        help="a training split (repeatable; default: OUTPUT_DIR/train.jsonl)",
    )
    p.add_argument(
        "--dataset-weights",
        type=float,
        nargs="+",
        metavar="W",
        help="one weight per --dataset: up/down-sampled as export does",
    )
    p.add_argument(
        "--val-dataset",
        dest="val_datasets",
        action="append",
        metavar="FILE",
        help="a validation split (repeatable; default: OUTPUT_DIR/val.jsonl)",
    )
    p.add_argument(
        "--student-dir", metavar="DIR", help="where to write (default OUTPUT_DIR/student)"
    )
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", type=int, help="steps to train; overrides --epochs")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--grad-accumulation", type=int)
    p.add_argument("--lora-rank", type=int)
    p.add_argument("--lora-alpha", type=int)
    p.add_argument(
        "--max-length", type=int, help="longest row in tokens; longer ones never truncated"
    )
    p.add_argument("--overlong", choices=["drop", "split"], help="what to do with longer rows")
    p.add_argument("--packing", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument(
        "--resume-from-checkpoint",
        nargs="?",
        const="latest",
        metavar="CKPT",
        help="resume from the latest checkpoint, or from CKPT",
    )
    p.add_argument(
        "--merge-adapters",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also save base + adapter merged, with tokenizer and chat template",
    )
    p.add_argument(
        "--do-gen-test",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="generate for a few validation prompts after training",
    )


def _eval_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", metavar="DIR", help="merged model or adapter (default: the trained one)"
    )
    p.add_argument(
        "--base-url", metavar="URL", help="an OpenAI-compatible server serving the student"
    )
    p.add_argument("--server-model", metavar="NAME", help="the student's name on that server")
    p.add_argument("--api-key-env", metavar="VAR", help="env var holding the server's key")
    p.add_argument("--split", metavar="FILE", help="held-out rows (default OUTPUT_DIR/val.jsonl)")
    p.add_argument("--eval-dir", metavar="DIR", help="where to write (default MODEL/eval)")
    p.add_argument("--student-dir", metavar="DIR", help="train's output (to find the model)")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--max-tasks", type=int, help="evaluate the first N held-out tasks")
    p.add_argument("--samples-per-task", type=int)
    p.add_argument("--temperature", type=float, help="0 = greedy")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])


def _cmd_train(args: argparse.Namespace) -> int:
    from distill import console
    from distill.cli import _load, _locked
    from distill.train.data import student_dir

    args.overrides = [*args.overrides, *flag_overrides(args, TRAIN_FLAGS)]
    config = _load(args)
    from distill.train.runner import run_train

    # One trainer per student directory; the pipeline's own lock stays free for nightly runs.
    with _locked(student_dir(config)):
        result = run_train(config)
    if not args.quiet:
        console.out.print(console.train_table(result))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from distill import console
    from distill.cli import _load, _locked

    args.overrides = [*args.overrides, *flag_overrides(args, EVAL_FLAGS)]
    config = _load(args)
    from distill.train.evaluate import run_eval, student_target

    with _locked(student_target(config)[1]):
        result = run_eval(config)
    if not args.quiet:
        console.out.print(console.eval_table(result))
        console.out.print(f"saved to {result.table_path}")
    # Some student requests failed: the table stands, but say so as a run with errors does.
    return 1 if result.request_errors else 0

"""Training throughput: `distill train` against a minimal plain TRL SFTTrainer script.

Both train the same LoRA (rank, alpha, targets, lr, batch, steps, precision, threads) on the same
rows (the demo export, made here against the teacher simulator) and the same randomly initialised
model (built here, no download); each side runs in its own fresh process, alternately, and the
best of --repeats counts. Tokens/s = non-padding tokens trained / seconds inside trainer.train().
Goal: ratio >= 1.0x (the data preparation, mask checks and manifest must cost no training speed).

    .venv/bin/python bench/train.py                       # tiny model, CPU, 1 thread
    .venv/bin/python bench/train.py --model-size 0.5b --device cuda --steps 50 --batch-size 8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-size", default="tiny", choices=["tiny", "small", "0.5b"])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=-1, help="torch threads (-1: 1 on CPU)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", choices=["trl"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(OFFLINE)
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        print(f"bench/train.py: skipped: needs the train extra ({exc}); pip install -e '.[train]'")
        return
    if args.worker:
        print(json.dumps(_plain_trl(args, Path(args.work))))
        return
    with tempfile.TemporaryDirectory(prefix="distill-bench-train-") as tmp:
        _compare(args, Path(tmp))


def _compare(args: argparse.Namespace, work: Path) -> None:
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    args.device = device
    if args.threads < 0:
        args.threads = 1 if device == "cpu" else 0
    config = _demo_export(work)
    rows = [json.loads(line) for line in (work / "out" / "train.jsonl").read_text().splitlines()]
    from distill.train.tiny import build_tiny_model, corpus_of

    model = build_tiny_model(work / "model", corpus_of(rows), size=args.model_size)
    params = _params(model)
    print(
        f"bench/train.py: {len(rows)} demo rows, model {args.model_size} ({params:,} params, "
        f"random), LoRA r16 all-linear, {args.steps} steps x batch {args.batch_size}, "
        f"max_length {args.max_length}, device {device}, threads {args.threads or 'default'}"
    )
    results: dict[str, list[dict[str, Any]]] = {"distill train": [], "plain TRL SFTTrainer": []}
    for i in range(args.repeats):
        sides = [("distill train", _distill), ("plain TRL SFTTrainer", _trl_side)]
        for name, run in sides if i % 2 == 0 else reversed(sides):
            results[name].append(run(args, work, config, model, i))
    best = {name: max(runs, key=lambda r: r["tokens_per_s"]) for name, runs in results.items()}
    for name, r in best.items():
        tries = ", ".join(f"{x['tokens_per_s']:,.0f}" for x in results[name])
        print(
            f"  {name:<22} {r['tokens_per_s']:>10,.0f} tokens/s  ({r['tokens']:,} tokens in "
            f"{r['seconds']:.2f} s; runs: {tries})"
        )
    ratio = best["distill train"]["tokens_per_s"] / best["plain TRL SFTTrainer"]["tokens_per_s"]
    print(f"  ratio distill/TRL      {ratio:>10.2f}x  (goal >= 1.0x)")


def _demo_export(work: Path) -> Path:
    """`distill run` with the demo config against the simulator: the rows both sides train on."""
    from distill.sim import SimConfig, running_sim

    config = ROOT / "configs" / "demo.toml"
    with running_sim(SimConfig(seed=7, p_correct=0.7)) as url:
        subprocess.run(
            [sys.executable, "-m", "distill", "run", "-c", str(config), "--quiet",
             "--output-dir", str(work / "out"),
             "--set", f"cache_dir={json.dumps(str(work / 'cache'))}",
             "--set", f"teachers.sim.base_url={json.dumps(url)}"],
            check=True, env=_env(),
        )  # fmt: skip
    return config


def _distill(
    args: argparse.Namespace, work: Path, config: Path, model: Path, i: int
) -> dict[str, Any]:
    student = work / f"distill-{i}"
    settings = {
        "base_model": str(model), "chat_template": "chatml", "max_steps": args.steps,
        "batch_size": args.batch_size, "grad_accumulation": 1, "learning_rate": 2e-4,
        "lora_rank": 16, "lora_alpha": 32, "max_length": args.max_length,
        "threads": args.threads, "device": args.device, "save_steps": 10**6,
        "output_dir": str(student),
    }  # fmt: skip
    command = [sys.executable, "-m", "distill", "train", "-c", str(config), "--quiet",
               "--output-dir", str(work / "out"),
               "--set", f"cache_dir={json.dumps(str(work / 'cache'))}"]  # fmt: skip
    for key, value in settings.items():
        command += ["--set", f"train.{key}={json.dumps(value)}"]
    started = time.monotonic()
    subprocess.run(command, check=True, env=_env())
    manifest = json.loads((student / "train_manifest.json").read_text())["result"]
    return {
        "tokens": manifest["tokens"],
        "seconds": manifest["train_seconds"],
        "tokens_per_s": manifest["tokens"] / manifest["train_seconds"],
        "wall": time.monotonic() - started,
    }


def _trl_side(
    args: argparse.Namespace, work: Path, config: Path, model: Path, i: int
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", "trl", "--work", str(work),
               "--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--max-length", str(args.max_length), "--threads", str(args.threads),
               "--device", args.device, "--model-size", args.model_size]  # fmt: skip
    started = time.monotonic()
    out = subprocess.run(command, check=True, env=_env(), capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.monotonic() - started
    return result


def _plain_trl(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """What a user would write with TRL alone: load the JSONL, SFTTrainer, assistant-only loss.

    Given the same sane settings as distill picks (fp32 and no activation checkpointing on a
    CPU, bf16 and checkpointing on a GPU) so the comparison is of the pipelines, not of defaults.
    """
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from distill.train.templates import CHATML

    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = args.device == "cuda"
    dataset = load_dataset("json", data_files=str(work / "out" / "train.jsonl"), split="train")
    tokenizer = AutoTokenizer.from_pretrained(str(work / "model"))
    tokenizer.chat_template = CHATML
    model = AutoModelForCausalLM.from_pretrained(
        str(work / "model"), dtype=torch.bfloat16 if gpu else torch.float32
    )
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=str(work / "trl"),
            max_steps=args.steps,
            per_device_train_batch_size=args.batch_size,
            learning_rate=2e-4,
            max_length=args.max_length,
            assistant_only_loss=True,
            eos_token="<|im_end|>",
            bf16=gpu,
            use_cpu=not gpu,
            activation_checkpointing=gpu,
            gradient_checkpointing=None,
            report_to="none",
            disable_tqdm=True,
            save_steps=10**6,
        ),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    tokens = int(trainer._total_train_tokens)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def _params(model: Path) -> int:
    from safetensors import safe_open

    total = 0
    for shard in model.glob("*.safetensors"):
        with safe_open(str(shard), "pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                count = 1
                for n in handle.get_slice(key).get_shape():
                    count *= n
                total += count
    return total


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OFFLINE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


if __name__ == "__main__":
    main()

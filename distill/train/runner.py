"""run_train: train (or resume), save the adapter, merge, try a few generations, write a manifest.

Layout of the student directory (train.output_dir, default OUTPUT_DIR/student):
    checkpoints/checkpoint-N/   adapter + optimizer + scheduler + RNG state, for resuming
    adapter/                    the LoRA adapter, the tokenizer and the chat template trained with
    merged/                     with train.merge_adapters: base + adapter in one, same tokenizer
    gen_test.jsonl              with train.do_gen_test: a few validation prompts and the answers
    train_manifest.json         versions, data hashes and counts, resolved settings, losses
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distill import __version__
from distill.config import Config
from distill.errors import ConfigError
from distill.jsonl import write_jsonl_atomic, write_text_atomic
from distill.reasoning import split_inline_think
from distill.train.data import resolve, student_dir, train_files, val_files
from distill.train.generate import STUDENT_FILE, generate, stop_ids
from distill.train.trainer import TrainSession, build_trainer

log = logging.getLogger(__name__)
MANIFEST = "train_manifest.json"


@dataclass
class TrainResult:
    out: Path
    adapter_dir: Path
    merged_dir: Path | None
    manifest_path: Path
    global_step: int
    train_rows: int
    val_rows: int
    dropped: dict[str, int]
    train_loss: float | None
    eval_loss: float | None
    tokens: int
    train_seconds: float
    gen_test: list[dict[str, Any]] = field(default_factory=list)
    unchanged: bool = False  # the student on disk was trained on these very files and settings

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds else 0.0


def train_if_changed(config: Config) -> TrainResult:
    """For `distill run`: train unless the student on disk came from the same splits (by
    content) and the same settings; a night without new data then costs no training."""
    previous = trained_already(config)
    if previous is not None:
        log.info("train: splits and settings unchanged since %s: kept", previous.manifest_path)
        return previous
    return run_train(config)


def trained_already(config: Config) -> TrainResult | None:
    """The last training's result, if its manifest matches today's inputs and outputs exist."""
    path = student_dir(config) / MANIFEST
    try:
        m = json.loads(path.read_text())
        data, result = m["data"], m["result"]
        trained_on = {k: v["sha256"] for k, v in data["train_files"].items()}
        validated_on = {k: v["sha256"] for k, v in data["val_files"].items()}
        same = (
            _settings(m["train"]) == _settings(dataclasses.asdict(config.train))
            and trained_on == _hashes(train_files(config))
            and validated_on == _hashes(val_files(config))
        )
        adapter = Path(m["adapter_dir"])
        merged = Path(m["merged_dir"]) if m["merged_dir"] else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no manifest yet, or one from an older layout: train
    if not same or not adapter.is_dir() or (config.train.merge_adapters and merged is None):
        return None
    if merged is not None and not merged.is_dir():
        return None
    return TrainResult(
        out=path.parent, adapter_dir=adapter, merged_dir=merged, manifest_path=path,
        global_step=result["global_step"], train_rows=data["train_rows"],
        val_rows=data["val_rows"], dropped=data["dropped"], train_loss=result["train_loss"],
        eval_loss=result["eval_loss"], tokens=result["tokens"],
        train_seconds=result["train_seconds"], unchanged=True,
    )  # fmt: skip


def _settings(train: dict[str, Any]) -> Any:
    """The settings that shape the student, as JSON would store them (eval's are not)."""
    return json.loads(json.dumps({k: v for k, v in train.items() if k != "eval"}, default=str))


def _hashes(paths: list[Path]) -> dict[str, str] | None:
    try:
        return {str(p): _sha256(str(p)) for p in paths}
    except OSError:
        return None


def run_train(config: Config, session: TrainSession | None = None) -> TrainResult:
    """Train as config.train says; `session` is a build_trainer(config) already made."""
    session = session or build_trainer(config)
    settings = config.train
    trainer = session.trainer
    resume = _resume_point(config, session.out / "checkpoints")
    started = time.monotonic()
    output = trainer.train(resume_from_checkpoint=resume)
    seconds = time.monotonic() - started
    eval_loss = None
    if session.val_rows:
        eval_loss = float(trainer.evaluate()["eval_loss"])
        log.info("validation loss %.4f", eval_loss)
    adapter_dir = session.out / "adapter"
    trainer.save_model(str(adapter_dir))
    session.tokenizer.save_pretrained(str(adapter_dir))
    _write_student_meta(adapter_dir, session)
    merged_dir, merged = _merge(session) if settings.merge_adapters else (None, None)
    model = merged if merged is not None else trainer.model
    gen_test = _gen_test(config, session, model) if settings.do_gen_test else []
    result = TrainResult(
        out=session.out,
        adapter_dir=adapter_dir,
        merged_dir=merged_dir,
        manifest_path=session.out / MANIFEST,
        global_step=int(trainer.state.global_step),
        train_rows=session.report.rows,
        val_rows=session.val_report.rows,
        dropped=dict(session.report.dropped)
        | {f"val_{k}": n for k, n in session.val_report.dropped.items()},
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        eval_loss=eval_loss,
        tokens=int(getattr(trainer, "_total_train_tokens", 0)),
        train_seconds=seconds,
        gen_test=gen_test,
    )
    _write_manifest(config, session, result, resume)
    return result


def _resume_point(config: Config, checkpoints: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    wanted = config.train.resume_from_checkpoint
    if not wanted:
        return None
    if wanted == "latest":
        last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if last is None:
            log.info("no checkpoint under %s yet: training from step 0", checkpoints)
        return last
    path = resolve(config, wanted)
    if not (path / "trainer_state.json").exists():
        raise ConfigError(
            f"train.resume_from_checkpoint: {path} is not a checkpoint (no trainer_state.json); "
            f'use "latest" or a checkpoint-N folder under {checkpoints}'
        )
    return str(path)


def _write_student_meta(directory: Path, session: TrainSession) -> None:
    meta = {
        "base_model": session.base_model,
        "chat_template": session.template.name,
        "eot_token": session.eot_token,
        "reasoning": session.reasoning,
        "distill_version": __version__,
    }
    write_text_atomic(directory / STUDENT_FILE, json.dumps(meta, indent=2) + "\n")


def _merge(session: TrainSession) -> tuple[Path, Any]:
    """Base + adapter, reloaded from disk (so the saved adapter is what gets merged)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = session.trainer.model
    dtype = model.get_base_model().dtype
    base = AutoModelForCausalLM.from_pretrained(session.base_model, dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(session.out / "adapter")).merge_and_unload()
    merged.generation_config.eos_token_id = stop_ids(session.tokenizer, merged, session.eot_token)
    merged.generation_config.pad_token_id = session.tokenizer.pad_token_id
    merged_dir = session.out / "merged"
    merged.save_pretrained(str(merged_dir))
    session.tokenizer.save_pretrained(str(merged_dir))  # with the chat template it learned
    _write_student_meta(merged_dir, session)
    log.info("merged model saved to %s", merged_dir)
    return merged_dir, merged


def _gen_test(config: Config, session: TrainSession, model: Any) -> list[dict[str, Any]]:
    settings = config.train
    model.eval()
    rows = session.val_prompts[: settings.gen_test_prompts]
    prompts = [r.messages[:-1] for r in rows]
    outputs = generate(
        model,
        session.tokenizer,
        prompts,
        eot_ids=stop_ids(session.tokenizer, model, session.eot_token),
        max_new_tokens=settings.gen_max_new_tokens,
        seed=settings.seed,
    )
    records = []
    for row, prompt, out in zip(rows, prompts, outputs, strict=True):
        _, answer, complete = split_inline_think(out.text)
        records.append(
            {
                "where": row.where,
                "prompt": prompt,
                "output": out.text,
                "finish_reason": out.finish_reason,
                "completion_tokens": out.completion_tokens,
                "think_well_formed": complete and "<think>" not in answer,
            }
        )
        log.info("gen test %s: %s, %d tokens", row.where, out.finish_reason, out.completion_tokens)
    write_jsonl_atomic(session.out / "gen_test.jsonl", records)
    return records


def _write_manifest(
    config: Config, session: TrainSession, result: TrainResult, resume: str | None
) -> None:
    import peft
    import torch
    import transformers
    import trl

    state = session.trainer.state
    manifest = {
        "schema_version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {
            "distill": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "peft": peft.__version__,
        },
        "base_model": session.base_model,
        "chat_template": session.template.name,
        "chat_template_patched_by_trl": session.template.patched_by_trl,
        "eot_token": session.eot_token,
        "reasoning": session.reasoning,
        "device": session.device,
        "precision": session.precision,
        "resumed_from": resume,
        # The resolved settings as plain data, not SFTConfig.to_dict() (it redacts *_token).
        "train": dataclasses.asdict(config.train),
        "data": {
            "train_files": {
                p: {"rows": n, "sha256": _sha256(p)} for p, n in session.report.files.items()
            },
            "picked": session.report.picked,
            "val_files": {p: {"sha256": _sha256(p)} for p in session.val_report.files},
            "train_rows": result.train_rows,
            "val_rows": result.val_rows,
            "split_pieces": session.report.split_pieces,
            "dropped": result.dropped,
            "trained_tokens": sum(sum(e.assistant_masks) for e in session.train_rows),
            "total_tokens": sum(len(e.input_ids) for e in session.train_rows),
        },
        "mask_example": dataclasses.asdict(session.mask_example)
        | {
            "context": session.mask_example.context[-2000:],
            "trained": session.mask_example.trained[:2000],
        },
        "result": {
            "global_step": result.global_step,
            "train_loss": result.train_loss,
            "eval_loss": result.eval_loss,
            "train_seconds": round(result.train_seconds, 3),
            "tokens": result.tokens,
            "tokens_per_s": round(result.tokens_per_s, 1),
        },
        "log_history": state.log_history,
        "adapter_dir": str(result.adapter_dir),
        "merged_dir": str(result.merged_dir) if result.merged_dir else None,
    }
    text = json.dumps(manifest, indent=2, default=str) + "\n"
    write_text_atomic(result.manifest_path, text)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

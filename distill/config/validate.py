"""Checks across keys, after the types are right: each problem names its key and the fix."""

from __future__ import annotations

from distill.config.export import ExportConfig
from distill.config.schema import Config, TeacherConfig, parse_shard
from distill.config.train import TrainConfig
from distill.errors import ConfigError


def validate(config: Config, file: str) -> None:
    def fail(message: str) -> None:
        raise ConfigError(f"{file}: {message}")

    if not config.name.strip() or "/" in config.name:
        fail("name must be a non-empty word without '/' (it names the output and cache folders)")
    if not config.tasks:
        fail('tasks is empty: list task files or globs, e.g. tasks = ["tasks/*.jsonl"]')
    if not config.teachers:
        fail("no teachers: add a [teachers.NAME] table with provider and model")
    for name, t in config.teachers.items():
        at = f"teachers.{name}"
        if t.samples_per_task < 1:
            fail(f"{at}.samples_per_task must be at least 1")
        if problem := _adaptive_problem(at, t):
            fail(problem)
        prices = {k: v for k, v in vars(t.price).items() if v is not None}
        if bad := sorted(k for k, v in prices.items() if v < 0):
            fail(f"{at}.price.{bad[0]} must be >= 0 (USD per million tokens)")
        if t.mode == "batch" and "deepseek.com" in t.base_url:
            fail(f'{at}.mode = "batch": DeepSeek\'s API has no Batch API; use mode = "sync"')
        if t.max_tokens < 1:
            fail(f"{at}.max_tokens must be at least 1")
        if t.timeout_s <= 0:
            fail(f"{at}.timeout_s must be positive")
        if min(t.limits.rpm, t.limits.tpm) < 0 or t.limits.max_in_flight < 1:
            fail(f"{at}.limits: rpm and tpm must be >= 0 and max_in_flight >= 1")
        if t.provider == "anthropic" and t.thinking_budget and t.thinking_budget >= t.max_tokens:
            fail(f"{at}.thinking_budget must be below max_tokens (Anthropic requires it)")
    for message in validate_export(config.export):
        fail(message)
    if config.harvest.batch_poll_s <= 0:
        fail("harvest.batch_poll_s must be positive")
    if config.harvest.max_attempts < 1:
        fail("harvest.max_attempts must be at least 1")
    if config.grade.workers < 0:
        fail("grade.workers must be >= 0 (0 = one per CPU)")
    if problem := _ray_address_problem(config.grade.ray_address):
        fail(problem)
    try:
        parse_shard(config.harvest.shard) if config.harvest.shard else None
    except ValueError as exc:
        fail(f"harvest.shard (--shard) = {config.harvest.shard!r}: {exc}")
    for message in validate_train(config.train):
        fail(message)
    if config.run.train and not config.train.base_model.strip():
        fail("run.train = true needs train.base_model: a model directory (or a hub id)")


def _adaptive_problem(at: str, t: TeacherConfig) -> str:
    k, n = t.accept_per_task, t.max_samples_per_task
    if min(k, n, t.max_consecutive_fails) < 0:
        return f"{at}: accept_per_task, max_samples_per_task and max_consecutive_fails must be >= 0"
    if k == 0:
        if n or t.max_consecutive_fails:
            return (
                f"{at}: max_samples_per_task and max_consecutive_fails need accept_per_task "
                "(how many passing answers a task needs); without it every task gets "
                "samples_per_task answers"
            )
        return ""
    if n == 0:
        return f"{at}.accept_per_task = {k} needs max_samples_per_task (at least {k})"
    if k > n:
        return (
            f"{at}.accept_per_task = {k} is more than max_samples_per_task = {n}: a task can "
            f"never get {k} passing answers from {n}; raise max_samples_per_task or lower "
            "accept_per_task"
        )
    return ""


def _ray_address_problem(address: str) -> str:
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not address or address == "auto" or (sep and host and port.isdigit()):
        return ""
    return (
        f"grade.ray_address = {address!r}: use auto, HOST:PORT (a head node, e.g. head:6379) "
        "or ray://HOST:PORT (Ray Client, e.g. ray://head:10001); empty = a local Ray"
    )


def validate_export(e: ExportConfig) -> list[str]:
    """Problems with an export section, each naming its key; empty when it is usable."""
    problems = []
    if not 0.0 <= e.val_fraction < 1.0:
        problems.append("export.val_fraction must be in [0, 1)")
    if e.fractions and e.weights:
        problems.append("export.fractions and export.weights exclude each other: give one")
    if e.fractions and abs(sum(e.fractions) - 1.0) > 1e-6:
        total = " + ".join(f"{f:g}" for f in e.fractions)
        problems.append(f"export.fractions must sum to 1 ({total} = {sum(e.fractions):g})")
    if any(x < 0 for x in (*e.fractions, *e.weights)):
        problems.append("export.fractions and export.weights must not be negative")
    if e.weights and sum(e.weights) <= 0:
        problems.append("export.weights must not all be 0")
    if e.max_tokens and not e.tokenizer:
        problems.append("export.max_tokens needs export.tokenizer (a tokenizer.json or model dir)")
    if min(e.num_samples, e.max_tokens, e.min_test_cases) < 0:
        problems.append("export.num_samples, max_tokens and min_test_cases must be >= 0")
    if not 0.0 < e.near_duplicate_threshold <= 1.0:
        problems.append("export.near_duplicate_threshold must be in (0, 1]")
    if e.reasoning == "field" and e.format not in ("messages", "dpo", "kto"):
        problems.append(
            f"export.reasoning = 'field' needs a conversational format (messages, dpo, kto), "
            f"not {e.format!r}: use think-tags"
        )
    bad = set(e.statuses) - {"pass", "fail", "error", "ungradeable", "suspect", "external"}
    if bad:
        problems.append(f"export.statuses: unknown status {sorted(bad)[0]!r}")
    return problems


def validate_train(t: TrainConfig) -> list[str]:
    """Problems with a train section (and its eval table), each naming its key."""
    problems = []
    if t.dataset_weights and t.datasets and len(t.dataset_weights) != len(t.datasets):
        problems.append(
            f"train.dataset_weights has {len(t.dataset_weights)} values for "
            f"{len(t.datasets)} datasets: give one per dataset"
        )
    if any(w < 0 for w in t.dataset_weights) or (t.dataset_weights and not sum(t.dataset_weights)):
        problems.append("train.dataset_weights must be >= 0 and not all 0")
    at_least_one = ("max_length", "lora_rank", "lora_alpha", "batch_size", "grad_accumulation",
                    "mask_check_rows", "gen_test_prompts", "gen_max_new_tokens")  # fmt: skip
    for key in at_least_one:
        if getattr(t, key) < 1:
            problems.append(f"train.{key} must be at least 1")
    for key in ("num_samples", "max_steps", "eval_batch_size", "threads", "eval_steps"):
        if getattr(t, key) < 0:
            problems.append(f"train.{key} must be >= 0")
    if t.save_steps < 1 or t.logging_steps < 1 or t.save_total_limit < 1:
        problems.append("train.save_steps, logging_steps and save_total_limit must be at least 1")
    if t.max_steps == 0 and t.epochs <= 0:
        problems.append("train.epochs must be positive (or set train.max_steps)")
    if t.learning_rate <= 0:
        problems.append("train.learning_rate must be positive")
    if not 0.0 <= t.lora_dropout < 1.0 or not 0.0 <= t.warmup_ratio < 1.0:
        problems.append("train.lora_dropout and train.warmup_ratio must be in [0, 1)")
    if not t.lora_target_modules:
        problems.append('train.lora_target_modules is empty: use ["all-linear"] or module names')
    if t.chat_template not in ("model", "chatml", "instruct", "chat") and not (
        t.chat_template.endswith((".jinja", ".j2"))
    ):
        problems.append(
            f"train.chat_template = {t.chat_template!r}: use model, chatml, instruct, chat "
            "or the path of a .jinja file"
        )
    e = t.eval
    if e.max_new_tokens < 1 or e.samples_per_task < 1 or e.batch_size < 1 or e.max_in_flight < 1:
        problems.append(
            "train.eval.max_new_tokens, samples_per_task, batch_size and max_in_flight "
            "must be at least 1"
        )
    if e.temperature < 0 or e.max_tasks < 0 or e.timeout_s <= 0:
        problems.append("train.eval.temperature and max_tasks must be >= 0, timeout_s positive")
    if e.base_url and not e.server_model:
        problems.append("train.eval.base_url needs train.eval.server_model (the model name)")
    return problems

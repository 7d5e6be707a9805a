"""The harvest plan: every (task, teacher, sample index) request with its key and token charge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distill.config import Config
from distill.harvest.limits import estimate_tokens
from distill.harvest.providers import base_url_of, request_params
from distill.harvest.shards import tasks_in
from distill.keys import request_key
from distill.prompts import PromptLibrary, PromptRenderer
from distill.records import Task
from distill.tasks import load_tasks


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    task_id: str
    teacher: str
    sample_index: int
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    key: str
    charge: int  # tokens the server counts against TPM: prompt estimate + max_tokens


def plan_of(config: Config) -> list[PlannedRequest]:
    """What a harvest of `config` plans: every task's requests, or its shard's alone."""
    tasks = load_tasks(config)
    shard = config.harvest.sharding
    if shard is not None:
        tasks = tasks_in(tasks, shard)
    renderer = PromptRenderer(PromptLibrary.load(config.prompts.library), config.prompts)
    return build_plan(config, tasks, renderer)


def build_plan(config: Config, tasks: list[Task], renderer: PromptRenderer) -> list[PlannedRequest]:
    plan: list[PlannedRequest] = []
    for task in tasks:
        messages = renderer.messages(task)
        prompt_tokens = sum(estimate_tokens(str(m.get("content", ""))) for m in messages)
        for name, teacher in config.teachers.items():
            if teacher.kinds and task.kind not in teacher.kinds:
                continue
            base_url = base_url_of(teacher)
            for index in range(teacher.most_samples):
                params = request_params(teacher, index)
                key = request_key(
                    provider=teacher.provider,
                    base_url=base_url,
                    model=teacher.model,
                    messages=messages,
                    params=params,
                    sample_index=index,
                )
                plan.append(
                    PlannedRequest(
                        task_id=task.id,
                        teacher=name,
                        sample_index=index,
                        messages=messages,
                        params=params,
                        key=key,
                        charge=prompt_tokens + int(params.get("max_tokens", 0)),
                    )
                )
    return plan

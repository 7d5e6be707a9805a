"""Re-render code tasks for training from prompt ids: the prompt a student learns from need not
be the one the teacher was asked (e.g. harvest with `pro_hacking`, train on `neutral`).

Several ids per role are variants: each row draws one, seeded by the export seed and the row, so
the same inputs and seed always give the same prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from distill.code_tests import render_tests
from distill.config import ExportConfig
from distill.prompts import PromptLibrary, Template, render_problem
from distill.records import Task


@dataclass(frozen=True)
class CodePrompts:
    system: tuple[Template, ...]
    problem: tuple[Template, ...]
    test_format: tuple[Template, ...]
    flag: Template | None

    @classmethod
    def from_config(cls, settings: ExportConfig, library: PromptLibrary) -> CodePrompts | None:
        if not (settings.system_prompt_ids or settings.problem_prompt_ids
                or settings.test_format_ids or settings.include_flag_prompt):  # fmt: skip
            return None
        problems = settings.problem_prompt_ids or ("neutral",)
        formats = settings.test_format_ids or ("numbered",)
        return cls(
            system=tuple(library.get("system", i) for i in settings.system_prompt_ids),
            problem=tuple(library.get("problem", i) for i in problems),
            test_format=tuple(library.get("test_format", i) for i in formats),
            flag=library.get("flag", "default") if settings.include_flag_prompt else None,
        )

    def render(self, task: Task, seed: int, row_key: str) -> tuple[list[dict[str, Any]], str]:
        """The prompt messages for `task`, and the variant ids chosen (for the manifest)."""
        rng = random.Random(f"{seed}:{row_key}")
        system = rng.choice(self.system) if self.system else None
        problem = rng.choice(self.problem)
        test_format = rng.choice(self.test_format)
        tests = render_tests(task, test_format.id, header=test_format.text)
        text = render_problem(problem, task, tests=tests)
        if self.flag is not None:
            text += "\n\n" + self.flag.text
        messages = [{"role": "system", "content": system.text}] if system and system.text else []
        messages.append({"role": "user", "content": text})
        variant = "/".join(t.id for t in (system, problem, test_format) if t is not None)
        return messages, variant

"""The prompt library: templates by id, and rendering a task into the messages sent to a teacher.

The library is prompts/library.toml (bundled), optionally extended by a user file named in
config (`prompts.library`). Templates are `str.format` strings over `{problem}`, `{language}`,
`{tests}` and `{fence}` (a backtick fence longer than any in the problem).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.config import PromptsConfig
from distill.errors import ConfigError
from distill.paths import bundled_prompts_dir
from distill.records import Task

ROLES = ("system", "problem", "test_format", "flag")


@dataclass(frozen=True)
class Template:
    id: str
    role: str  # one of ROLES
    text: str
    kind: str = ""
    description: str = ""


class PromptLibrary:
    def __init__(self, templates: dict[tuple[str, str], Template]) -> None:
        self._templates = templates

    @classmethod
    def load(cls, extra: str | Path = "") -> PromptLibrary:
        templates: dict[tuple[str, str], Template] = {}
        files = [bundled_prompts_dir() / "library.toml"]
        if extra:
            files.append(Path(extra))
        for path in files:
            templates.update(_read_library(path))
        return cls(templates)

    def get(self, role: str, template_id: str) -> Template:
        try:
            return self._templates[(role, template_id)]
        except KeyError:
            known = ", ".join(self.ids(role)) or "none"
            raise ConfigError(
                f"unknown {role} prompt id {template_id!r}; known ids: {known} "
                "(see `distill prompts list`)"
            ) from None

    def ids(self, role: str) -> list[str]:
        return sorted(tid for r, tid in self._templates if r == role)

    def all(self) -> list[Template]:
        return sorted(self._templates.values(), key=lambda t: (t.role, t.id))


def _read_library(path: Path) -> dict[tuple[str, str], Template]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: prompt library not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    templates = {}
    for role in ROLES:
        for template_id, entry in data.get(role, {}).items():
            if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
                raise ConfigError(f"{path}: [{role}.{template_id}] needs a 'text' string")
            templates[(role, template_id)] = Template(
                id=template_id,
                role=role,
                text=entry["text"],
                kind=str(entry.get("kind", "")),
                description=str(entry.get("description", "")),
            )
    return templates


class PromptRenderer:
    """Turns tasks into chat messages with the prompt ids chosen in config."""

    def __init__(self, library: PromptLibrary, config: PromptsConfig) -> None:
        self._system = library.get("system", config.system).text
        self._problem = {
            kind: library.get("problem", getattr(config, kind))
            for kind in ("math", "code", "merge", "chat")
        }

    def messages(self, task: Task) -> list[dict[str, Any]]:
        if task.messages:
            messages = [dict(m) for m in task.messages]
            if self._system and messages[0].get("role") != "system":
                messages.insert(0, {"role": "system", "content": self._system})
            return messages
        template = self._problem.get(task.kind)
        text = task.prompt or ""
        if template is not None:
            text = render_problem(template, task)
        messages = [{"role": "system", "content": self._system}] if self._system else []
        messages.append({"role": "user", "content": text})
        return messages


def fence_for(text: str | None) -> str:
    """A backtick fence longer than any backtick run in `text` (CommonMark: at least three).

    A Markdown conflict holding ``` lines would otherwise close the prompt's fence early.
    """
    longest = max((len(run) for run in re.findall(r"`+", text or "")), default=0)
    return "`" * max(3, longest + 1)


def render_problem(template: Template, task: Task, tests: str = "") -> str:
    """A problem template over a task; `{tests}` gets the public tests, numbered by default."""
    language = str(task.meta.get("language") or task.reference.get("language") or "")
    if "{tests}" in template.text and not tests:
        from distill.code_tests import render_tests  # only code problem templates need it

        tests = render_tests(task, "numbered", header="Examples:\n\n{tests}")
    try:
        return template.text.format(
            problem=task.prompt or "", language=language, tests=tests, fence=fence_for(task.prompt)
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"prompt template {template.role}.{template.id}: bad placeholder ({exc}); "
            "use {problem}, {language}, {tests}, {fence} and double literal braces"
        ) from None

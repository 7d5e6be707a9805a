"""Load the task files a config names (globs allowed)."""

from __future__ import annotations

import glob
from pathlib import Path

from distill.config import Config
from distill.errors import InputError
from distill.records import Task, read_tasks


def task_files(config: Config) -> list[Path]:
    files: list[Path] = []
    for pattern in config.tasks:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise InputError(f"{config.source}: tasks pattern {pattern!r} matches no file")
        files.extend(Path(m) for m in matches)
    return files


def load_tasks(config: Config) -> list[Task]:
    return read_tasks(task_files(config))

"""The layer contract (pyproject.toml, `[tool.importlinter]`): the core imports no stage, stages
meet only through files. Checked on the real tree, and on copies with one forbidden import added
so that a contract which no longer matches anything cannot pass unnoticed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the `distill` package under `root`, with the config there."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def module_file(root: Path, module: str) -> Path:
    base = root.joinpath(*module.split("."))
    path = base.with_suffix(".py")
    return path if path.is_file() else base / "__init__.py"


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "distill", tmp_path / "distill",
                    ignore=shutil.ignore_patterns("__pycache__", "_bundled"))  # fmt: skip
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    assert LINT_IMPORTS.is_file(), "lint-imports is missing: install the dev extra"
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_top_level_module_has_a_place_in_the_contract() -> None:
    # A new loose module or package outside every contract would be checked by none of them.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    named: set[str] = set()
    for contract in config["tool"]["importlinter"]["contracts"]:
        for key in ("source_modules", "forbidden_modules", "modules"):
            named.update(contract.get(key, ()))
    package = ROOT / "distill"
    modules = {p.stem for p in package.glob("*.py")} | {
        p.parent.name for p in package.glob("*/__init__.py")
    }
    modules -= {"__init__", "__main__"}
    assert {f"distill.{m}" for m in modules} - named == set()


def test_an_unchanged_copy_keeps_every_contract(tree_copy: Path) -> None:
    done = lint_imports(tree_copy)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("distill.records", "distill.harvest.runner", "The core imports no stage"),
        ("distill.reasoning", "distill.export.formats", "The core imports no stage"),
        ("distill.export.writers", "distill.grade.registry", "meet only through files"),
        ("distill.sources.readers", "distill.harvest.cache", "meet only through files"),
        ("distill.harvest.runner", "distill.grade.runner", "meet only through files"),
        ("distill.harvest.runner", "distill.sim", "No stage imports the CLI"),
        ("distill.grade.runner", "distill.cli", "No stage imports the CLI"),
        ("distill.train.data", "distill.export.writers", "Train runs harvest and grade"),
        ("distill.pipeline", "distill.cli", "The pipeline runs the stages"),
        ("distill.sim", "distill.harvest.runner", "The simulator imports no stage"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree_copy: Path, importer: str, imported: str, contract: str
) -> None:
    path = module_file(tree_copy, importer)
    # A function-level import counts: a lazy import is still a dependency.
    path.write_text(path.read_text() + f"\n\ndef _injected() -> None:\n    import {imported}\n")
    done = lint_imports(tree_copy)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = [line for line in done.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(contract in line for line in broken), done.stdout
    assert importer in done.stdout and imported in done.stdout

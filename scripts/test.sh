#!/usr/bin/env bash
# Set up .venv with the dev, train and ray extras, lint, type-check, and run every test (slow ones
# included: the trainer test trains a tiny model on the CPU, offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,train,ray
bash scripts/setup_chromium.sh  # Debian's chromium, for the report's browser test
.venv/bin/ruff check distill tests bench
.venv/bin/mypy
.venv/bin/lint-imports  # the layer contract in pyproject.toml
.venv/bin/pytest -q "$@"

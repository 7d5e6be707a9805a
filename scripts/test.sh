#!/usr/bin/env bash
# Set up .venv with the dev extra, lint, type-check, and run every test (slow ones included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check distill tests bench
.venv/bin/mypy
.venv/bin/pytest -q "$@"

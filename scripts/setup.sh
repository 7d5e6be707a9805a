#!/usr/bin/env bash
# Create .venv and install distill into it (editable). Extras as arguments: setup.sh dev,train,ray
# With the train extra, torch==2.13.0 goes in first, on its own: left to the resolver, another
# torch version would be fetched (a CUDA build of several GB on most machines).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  case ",$extras," in
    *,train,*) .venv/bin/python -m pip install --quiet "torch==2.13.0" ;;
  esac
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  touch "$stamp"
fi

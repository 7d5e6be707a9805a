.PHONY: setup demo test lint bench clean

setup:
	bash scripts/setup.sh dev

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check distill tests bench
	.venv/bin/ruff format --check distill tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

bench: setup
	@for b in bench/*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

clean:
	rm -rf outputs/demo cache/demo .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

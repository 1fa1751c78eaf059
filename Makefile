# Every target bootstraps its own virtual environment: a fresh clone needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint format clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m bulksend.demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check bulksend tests benchmarks
	$(BIN)/ruff format --check bulksend tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format bulksend tests benchmarks
	$(BIN)/ruff check --fix bulksend tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

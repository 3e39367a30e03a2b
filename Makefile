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

.PHONY: submission test test-fast bench bench-baseline lint clean venv base-model
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

## All tests, the end-to-end graph test included (marked slow).
test: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/integration

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit -m "not slow"

## Predict-latency and throughput benchmarks, compared with the committed baseline.
bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only \
		--benchmark-storage=tests/benchmarks/baseline --benchmark-compare \
		--benchmark-compare-fail=mean:10%

bench-baseline: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only \
		--benchmark-storage=tests/benchmarks/baseline --benchmark-save=baseline

lint: $(STAMP)
	$(BIN)/snakemake --lint

clean:
	rm -rf results resources logs benchmarks .snakemake

# Two entry points do all set-up on a fresh machine: `make dataset` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SIZE ?= 200MB
SEED ?= 7
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: dataset test venv sample benchmark soak

$(BIN)/warpfuzz: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dataset]'
	touch $(BIN)/warpfuzz

venv: $(BIN)/warpfuzz

# the ray extra, so that CI runs the --executor ray test too (it skips without it)
$(VENV)/ray-extra: $(BIN)/warpfuzz
	$(BIN)/pip install -q -e '.[ray]'
	touch $@

dataset: venv
	$(BIN)/warpfuzz campaign --backend cpu --out corpus/cpu --size $(SIZE) --seed $(SEED) --workers $(WORKERS)
	$(BIN)/warpfuzz campaign --backend cuda --out corpus/cuda --size $(SIZE) --seed $(SEED) --workers $(WORKERS) --oracles none
	$(BIN)/warpfuzz validate corpus/cpu corpus/cuda
	$(BIN)/warpfuzz redraw corpus/cpu corpus/cuda --workers $(WORKERS) --recompile 100
	$(BIN)/warpfuzz stats corpus/cpu
	$(BIN)/warpfuzz stats corpus/cuda

test: venv $(VENV)/ray-extra
	$(BIN)/python -m pytest -q tests

sample: venv
	$(BIN)/python -m fuzzer.sample corpus/sample

benchmark: venv
	$(BIN)/python benchmarks/throughput.py

# kill -9 a campaign at many moments, resume it each time, compare with an uninterrupted run
soak: venv
	$(BIN)/python benchmarks/kill_soak.py --backend cpu
	$(BIN)/python benchmarks/kill_soak.py --backend cuda --count 150

# bot4 — the two set-up commands are `make demo` and `make test`; both build .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.bot4-run-installed
DEV_STAMP := $(VENV)/.bot4-dev-installed

.PHONY: demo test lint bench soak clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "bot4 needs Python >= 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

## demo: backtest ema_cross on the bundled real BTC/USDT candles, print a summary, write reports/demo.html
demo: $(RUN_STAMP)
	@mkdir -p reports
	$(BIN)/bot4 backtest --strategy ema_cross --param fast=10 --param slow=30 \
		--cash 10000 --fee-rate 0.001 --report reports/demo.html --db sqlite:///reports/bot4.sqlite

## test: the whole suite (unit, acceptance, integration against the local PostgreSQL server)
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" -q

## lint: ruff and mypy (strict) over the package
lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

## bench: every benchmark script, one JSON object each
bench: $(RUN_STAMP)
	$(BIN)/python benchmarks/backtest_throughput.py --bars 1000000
	$(BIN)/python benchmarks/indicators.py
	$(BIN)/python benchmarks/live_loop.py

## soak: long-running soak and fuzz tests (marker `slow`), not part of `make test`
soak: $(DEV_STAMP)
	$(BIN)/python -m pytest -m slow -q

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache

# Quick start: `make demo` (run the whole pipeline on the demo market), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DAYS ?= 30
export DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test ui lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	@mkdir -p $(DAGSTER_HOME)
	@range=$$($(BIN)/python -c "from stockmonitor_assets.trading_calendar import recent_range; \
	a, b = recent_range($(DEMO_DAYS)); print(f'{a}...{b}')"); \
	echo "Materializing every asset for $$range on the demo market (one run)..."; \
	$(BIN)/dagster asset materialize -m stockmonitor_assets.definitions --select '*' \
		--partition-range "$$range" 2>&1 | grep -E "RUN_SUCCESS|RUN_FAILURE|STEP_FAILURE|Error" ; \
	test -n "$$(ls $(DATA_DIR)/scores 2>/dev/null)" || { echo "demo failed"; exit 1; }
	@echo ""
	@echo "Done. Parquet partitions, one file per trading day and asset, are in $(DATA_DIR)/:"
	@ls $(DATA_DIR)
	@echo "Read them with polars:  pl.read_parquet('$(DATA_DIR)/scores/*.parquet')"
	@echo "Open the Dagster UI:    make ui   (then browse http://127.0.0.1:3000)"

ui: $(VENV)/.installed
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -m stockmonitor_assets.definitions -h 127.0.0.1 -p 3000

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Quick start: `make demo` (run the whole pipeline on the demo market), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DAYS ?= 20
export DATA_DIR ?= $(CURDIR)/data

.PHONY: demo test ui lint lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every package the lock pins is installed at the lock's version (its pins without the
# hashes, as pip constraints): what the tests run is what the image runs, and a new release
# upstream changes neither. The tests' and linters' own packages are pinned the same way by
# DEV_LOCK. To move to newer versions: `pip install -U` them here, `make lock`.
CONSTRAINTS := $(VENV)/constraints.txt
DEV_LOCK := deploy/requirements-dev.lock
$(CONSTRAINTS): deploy/requirements.lock | $(BIN)/python
	sed -n 's/^\([A-Za-z0-9_.-]*==[^ ]*\).*/\1/p' $< > $@

# The demo needs the package only; tests add TA-Lib, MyTT, hypothesis and the linters.
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed $(DEV_LOCK)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -c $(DEV_LOCK) -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	@mkdir -p logs
	@range=$$($(BIN)/python -c "from stockmonitor_assets.trading_calendar import recent_range; \
	a, b = recent_range($(DEMO_DAYS)); print(f'{a}...{b}')"); \
	echo "Materializing every asset for $$range on the demo market, in one run..."; \
	if ! $(BIN)/dagster asset materialize -m stockmonitor_assets.definitions --select '*' \
		--partition-range "$$range" > logs/demo.log 2>&1; then \
		tail -n 40 logs/demo.log; echo "The demo run failed; full log: logs/demo.log"; exit 1; fi
	@echo ""
	@echo "Done. Parquet partitions (one file per trading day and asset) are in $(DATA_DIR)/:"
	@ls $(DATA_DIR)
	@echo "Read them with polars:  pl.read_parquet('$(DATA_DIR)/scores/*.parquet')"
	@echo "Open the Dagster UI:    make ui   (then browse http://127.0.0.1:3000; run log: logs/demo.log)"
	@echo "Use the commands:       . .venv/bin/activate   (then: stockmonitor list, dagster asset materialize ...)"
	@echo "Latest market report:   $$($(BIN)/stockmonitor report | cut -d' ' -f2-)"

# DAGSTER_HOME is the repo root: its dagster.yaml keeps runs under ./.dagster_home (without it,
# `dagster dev` announces a temporary directory it does not actually use for them).
ui: $(VENV)/.installed
	DAGSTER_HOME=$(CURDIR) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Every test, in parallel (pytest-xdist): one more worker than cores, since the deployment
# tests spend minutes waiting on daemon ticks; each worker takes a whole module at a time
# (module-scoped deployments and runs are set up once), in collection order, which puts the
# slow modules first (conftest.py). Serially: `.venv/bin/python -m pytest`.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# Temporary files (instances, Parquet, logs) in memory where the machine has a tmpfs: Dagster's
# embedded SQLite flushes the disk at every event (a subprocess-heavy module: ~10% of its wall).
# One folder per checkout, emptied when the next run starts (a tmpfs holds them in memory).
TEST_TMPROOT ?= $(shell [ -w /dev/shm ] && echo /dev/shm || echo $${TMPDIR:-/tmp})
TEST_TMPDIR := $(TEST_TMPROOT)/stockmonitor-tests-$(shell echo $(CURDIR) | cksum | cut -d' ' -f1)

test: $(VENV)/.installed-dev
	@rm -rf $(TEST_TMPDIR) && mkdir -p $(TEST_TMPDIR)
	TMPDIR=$(TEST_TMPDIR) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# deploy/requirements.lock, the image's hashed pins, at the versions this venv was tested with
# (pip-tools in a throwaway venv; PyPI itself, so the hashes are those the image build sees);
# then DEV_LOCK: every other package of this venv (tests, linters), as installed.
lock: $(VENV)/.installed-dev
	$(PYTHON) -m venv .lock-tools && .lock-tools/bin/pip install --quiet pip-tools
	$(BIN)/pip freeze --exclude-editable | grep -v '^stockmonitor' > .lock-tools/constraints.txt
	PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" .lock-tools/bin/pip-compile \
		pyproject.toml deploy/requirements-build.in --extra s3 --generate-hashes --allow-unsafe \
		--strip-extras --constraint .lock-tools/constraints.txt --index-url https://pypi.org/simple \
		--no-emit-index-url --no-emit-find-links --quiet --output-file deploy/requirements.lock
	$(BIN)/python -c "$$DEV_PINS" < .lock-tools/constraints.txt > $(DEV_LOCK)

# The lines of this venv's freeze (stdin) for packages the image's lock does not hold.
define DEV_PINS
import re, sys
name = lambda line: re.sub(r'[-_.]+', '-', line.split('==')[0]).lower()
image = {name(line) for line in open('deploy/requirements.lock') if '==' in line}
print('# Packages of the dev venv beside deploy/requirements.lock (tests, linters), as tested: make lock')
sys.stdout.writelines(line for line in sys.stdin if '==' in line and name(line) not in image)
endef
export DEV_PINS

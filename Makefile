# Fresh clone → `make run` (the main job) or `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: run test test-cluster test-fast lint format setup system-deps clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The report shows this sweep's runs only, also when the store holds runs of earlier params.
run: $(STAMP)
	name=make-run-$$(date +%Y%m%d-%H%M%S) && vae-pipe sweep --name $$name && vae-pipe report --sweep $$name
	@echo
	@echo "Report:    reports/index.html (open it in a browser)"
	@echo "MLflow UI: .venv/bin/vae-pipe ui   then http://127.0.0.1:5000"

# The full suite (CI), cluster tests included, on 2 processes: most of an end-to-end test's time is spent
# waiting (DVC, servers starting), so two at once took 12:34 on 2 idle cores against ~22 min one at
# a time. Before a commit, or in a tight loop, `make test-fast` (~75 s): unit tests only, no DVC pipeline,
# sweep, server or browser.
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=30

# Only the Dask cluster sweep with a killed worker and the 8 writers (PostgreSQL-backed MLflow server).
test-cluster: $(STAMP) system-deps
	$(BIN)/python -m pytest -m cluster --durations=5

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not e2e and not browser and not slow"

# ruff (lint + format check) and the import-layer contract (pipeline → vae → metrics, pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Debian's chromium for the browser tests and postgresql for the cluster tests, installed when missing and
# we are root; elsewhere those tests skip with the reason (under CI=true a missing one fails them instead).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (browser tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed and cannot be installed here: browser tests will skip"; fi; }
	@# PostgreSQL for the cluster tests' shared MLflow store; found on PATH or under /usr/lib/postgresql.
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql (cluster tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is not installed and cannot be installed here: cluster tests will skip"; fi; }

clean-venv:
	rm -rf $(VENV)

# EvalSite: `make run` sets up and serves the demo; `make test` runs the whole suite; `make check` lints and runs
# the tests that need no services (no PostgreSQL, Redis, RabbitMQ, Celery worker or browser).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TORCH := $(shell grep -E '^torch==' requirements.txt)
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SIZE ?= 128
DEMO_STEPS ?= 20
# `make check`'s tests: SQLite in-process, the in-memory broker, no worker process or browser; the slow statistical
# calibration and REML-search checks are left to `make test`.
FAST_TESTS ?= tests/analysis tests/annotations tests/api tests/security tests/test_settings.py tests/metrics/test_checkpoint.py \
	tests/generation/test_scaling.py tests/generation/test_registry.py tests/generation/test_selectors.py \
	tests/generation/test_admin.py \
	--ignore=tests/analysis/test_calibration.py --ignore=tests/analysis/test_mixed_search.py
FAST_MARKS ?= not worker and not browser

.PHONY: install install-dev run test browser lint test-fast check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime packages, torch first (its pinned build, not whatever a dependency would pull in); then EvalSite itself,
# editable and without dependencies, for its console script evalsite-analyze (pyproject.toml's [project.scripts]).
# "compat" puts this folder on sys.path instead of an import hook that always answers with it, so that another
# checkout run with this environment (bench/load_compare.py's earlier commit) imports its own code.
$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --editable . --config-settings editable_mode=compat
	touch $@

# Test, benchmark and lint tools on top of the runtime packages.
$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	HOST=$(HOST) PORT=$(PORT) DEMO_SIZE=$(DEMO_SIZE) DEMO_STEPS=$(DEMO_STEPS) bash scripts/run-demo.sh

browser:
	bash scripts/ensure-chromium.sh

test: install-dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Both checks run; either failing fails the target. The format check names the files (`ruff format --diff` shows
# what would change).
lint: install-dev
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check --output-format concise . || status=1; \
	exit $$status

test-fast: install-dev
	$(BIN)/python -m pytest -q -m "$(FAST_MARKS)" $(FAST_TESTS) $(PYTEST_ARGS)

# Lint and the fast tests both run (the tests too when lint fails); either failing fails the target.
check: install-dev
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory test-fast || status=1; \
	exit $$status

clean:
	rm -rf var test-artifacts

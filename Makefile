# EvalSite: `make run` sets up and serves the demo; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TORCH := $(shell grep -E '^torch==' requirements.txt)
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SIZE ?= 128
DEMO_STEPS ?= 20

.PHONY: install install-dev run test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime packages, torch first (its pinned build, not whatever a dependency would pull in).
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -r requirements.txt
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

clean:
	rm -rf var test-artifacts

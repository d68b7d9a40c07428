# relais: every entry point of the project. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/pytest
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help system-deps pjproject install run test test-unit test-integration test-peer test-browser bench lint prompts clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

system-deps: ## install the Debian packages relais needs (idempotent; needs root)
	@./scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@# `relais` on PATH for every folder (README): a link when /usr/local/bin is writable (root).
	@if [ -w /usr/local/bin ]; then ln -sfn "$(CURDIR)/$(BIN)/relais" /usr/local/bin/relais; \
	 else echo "relais: $(CURDIR)/$(BIN)/relais (link it into your PATH)"; fi
	@touch $(STAMP)

pjproject: $(STAMP) ## build pjproject with 512 calls per worker into .venv (idempotent; scripts/build-pjproject.sh)
	@./scripts/build-pjproject.sh $(VENV)

install: system-deps $(STAMP) pjproject ## system packages, .venv with relais and its dependencies, pjproject

run: install ## run the whole service on its embedded defaults
	$(BIN)/relais run

test: install ## run every test tier (unit and integration two at a time; then peer, browser, multi-host)
	$(PYTEST) -n 2 tests/unit tests/integration
	$(PYTEST) tests/peer tests/browser
	$(PYTEST) tests/multihost

test-unit: install ## pure tests: routing, dialogs, media, schedules
	$(PYTEST) tests/unit

test-integration: install ## store (SQLite and PostgreSQL), bus, SMTP, HTTP
	$(PYTEST) tests/integration

test-peer: install ## real SIP peers over loopback
	$(PYTEST) tests/peer

test-browser: install ## the portal in Debian chromium driven by Playwright
	$(PYTEST) tests/browser

.PHONY: test-multihost
test-multihost: install ## edge, two switch hosts and services as network namespaces (root): peers, failover
	$(PYTEST) tests/multihost

bench: install ## every benchmark, one table of same-run ratios
	$(BIN)/python -m tests.bench

prompts: install ## regenerate media/prompts/<lang>/*.wav from media/catalog.py (espeak-ng, sox)
	$(BIN)/python -m media.generate

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean: ## remove the virtualenv and local state
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

.PHONY: i18n
i18n: install ## extract the portal's texts, update and compile its catalogues (fr, en)
	$(BIN)/pybabel extract -F portal/babel.cfg -k Msg -k N_ --no-location --sort-output --project=relais --version=1 -o portal/i18n/messages.pot .
	$(BIN)/pybabel update -i portal/i18n/messages.pot -d portal/i18n -D messages --no-fuzzy-matching --ignore-obsolete -w 100
	$(BIN)/pybabel compile -d portal/i18n -D messages --statistics

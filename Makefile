# Everyday commands. GNU make; every target installs what it needs into .venv first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=
# bench/ is linted once it exists.
LINT_PATHS := app tests migrations $(wildcard bench)

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help venv run migrate demo purge openapi test lint format lock clean bench

help:
	@echo 'make run       install runtime deps, migrate the database, serve on $$HOST:$$PORT (127.0.0.1:8000)'
	@echo 'make test      install dev deps and run the whole test suite (PYTEST_ARGS=... to pass options)'
	@echo 'make lint      ruff check, ruff format --check, mypy'
	@echo 'make format    ruff format and ruff check --fix'
	@echo 'make migrate   apply database migrations to $$DATABASE_URL'
	@echo 'make demo      load a demo client (two years of diary) and a demo therapist; prints their logins'
	@echo 'make purge     remove sync tombstones (deleted records) older than 90 days from $$DATABASE_URL'
	@echo 'make openapi   write openapi/openapi.json'
	@echo 'make bench     run every benchmark in bench/ against a server on loopback; prints one table'
	@echo 'make lock      re-pin constraints.txt from pyproject.toml (UPGRADE=1 to re-resolve everything)'
	@echo 'make venv      create .venv with runtime and dev deps'
	@echo 'make clean     remove .venv, caches and build output (data/ is kept)'

# --- the virtualenv; the stamps make repeated runs skip pip ---

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

# The dev install includes the runtime deps, so it satisfies the runtime stamp too.
$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-dev

# --- running ---

run: $(VENV)/.installed-run
	mkdir -p data
	$(BIN)/python -m app migrate
	exec $(BIN)/python -m app serve

migrate: $(VENV)/.installed-run
	mkdir -p data
	$(BIN)/python -m app migrate

demo: migrate
	$(BIN)/python -m app demo

purge: $(VENV)/.installed-run
	$(BIN)/python -m app purge-tombstones

openapi: $(VENV)/.installed-run
	mkdir -p openapi
	$(BIN)/python -m app openapi > openapi/openapi.json.tmp || { rm -f openapi/openapi.json.tmp; exit 1; }
	mv openapi/openapi.json.tmp openapi/openapi.json

# --- checking ---

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# wrk is the load generator (Debian's package); installed here when missing.
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { \
	  sudo=$$( [ "$$(id -u)" -eq 0 ] || echo "sudo -n" ); \
	  echo "installing wrk with apt-get"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends wrk >/dev/null || { \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends wrk >/dev/null; }; }
	$(BIN)/python -m bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy app

format: $(VENV)/.installed-dev
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

# --- pinning ---

# Resolves pyproject.toml (runtime + dev) in a fresh throwaway venv, so the lock holds exactly what the
# project needs. Existing pins are kept (they are passed as constraints); packages new to pyproject.toml
# get their latest allowed version. UPGRADE=1 ignores the old pins and re-resolves everything.
LOCK_CONSTRAINTS := $(if $(UPGRADE),,$(if $(wildcard constraints.txt),-c constraints.txt))

lock:
	@set -e; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp" constraints.txt.tmp' EXIT; \
	echo "resolving pyproject.toml in a temporary venv $(if $(LOCK_CONSTRAINTS),keeping the current pins,from scratch)"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet $(LOCK_CONSTRAINTS) -e '.[dev]'; \
	{ \
	  echo '# Pinned versions of every package the project needs (runtime and the dev extra), for Python 3.11.'; \
	  echo '# Used as pip constraints by the Makefile and the Dockerfile: pip install -c constraints.txt ...'; \
	  echo '# Generated, do not edit: after changing dependencies in pyproject.toml run `make lock`'; \
	  echo '# (`make lock UPGRADE=1` re-resolves every package to its latest allowed version).'; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable --exclude pip --exclude setuptools --exclude wheel; \
	} > constraints.txt.tmp; \
	mv constraints.txt.tmp constraints.txt; \
	echo "constraints.txt updated; the next make run/test syncs .venv to it"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info openapi/*.tmp constraints.txt.tmp
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

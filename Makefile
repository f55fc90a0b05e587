# Carrefour — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 3978
DATABASE_URL ?= sqlite+aiosqlite:///./var/carrefour.db
export DATABASE_URL

.PHONY: run serve playground test test-next-year lint check e2e clean install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: set up, migrate the SQLite database, load the demo community (once) and start the bot
##      on http://127.0.0.1:$(PORT)/api/messages (this machine only; CARREFOUR_HOST=0.0.0.0 to open it)
run: $(VENV)/.installed
	$(BIN)/carrefour db upgrade
	$(BIN)/carrefour demo seed
	$(BIN)/carrefour serve --port $(PORT)

## playground: the Microsoft 365 Agents Playground (a local Teams client) against the running bot
playground: node_modules/.installed
	@mkdir -p var/bin && printf '#!/bin/sh\nexit 0\n' > var/bin/xdg-open && chmod +x var/bin/xdg-open
	@echo "Open http://127.0.0.1:56150 and pick \"Personal Chat\", then type: aide"
	PATH="$(CURDIR)/var/bin:$$PATH" npx --no-install agentsplayground start \
		-e http://127.0.0.1:$(PORT)/api/messages -c msteams

install-dev: $(VENV)/.installed-dev node_modules/.installed

## lint: ruff, mypy --strict, import-linter (layers)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## test: set up and run everything: linters, unit and HTTP tests, PostgreSQL tests, the real-client test
test: install-dev lint
	$(BIN)/pytest -q -ra --durations=10

## test-next-year: the tests with every clock (this process, bot processes it starts) moved a
##      year ahead, to prove nothing depends on today's date (needs Debian's faketime)
test-next-year: install-dev
	faketime -f "+365d" $(BIN)/pytest -q -ra -m "not e2e"

e2e: install-dev
	$(BIN)/pytest -q -ra -m e2e

clean:
	rm -rf $(VENV) node_modules var build test-output .pytest_cache .mypy_cache .ruff_cache

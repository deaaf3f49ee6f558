# Plan Tracker: `make run` starts the app with demo data; `make test` runs the whole suite;
# `make audit` checks the pinned dependencies for known vulnerabilities.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test audit install install-test translations extract-messages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements-test.txt $(VENV)/.deps
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

install: $(VENV)/.deps
install-test: $(VENV)/.test-deps

translations: $(VENV)/.deps
	$(BIN)/pybabel compile --use-fuzzy --statistics -d tracker/translations 2>&1 | tail -n 2

# Babel's directory walk skips folders whose names start with "_" (templates/_macros,
# templates/_partials), so they are named explicitly.
MESSAGE_SOURCES = tracker templates $(shell find templates tracker -type d -name '_*' -not -name '__pycache__')

extract-messages: $(VENV)/.deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output -o tracker/translations/messages.pot $(MESSAGE_SOURCES)
	$(BIN)/pybabel update -i tracker/translations/messages.pot -d tracker/translations --no-fuzzy-matching --ignore-obsolete

run: install translations
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi tracker demo --if-empty
	$(BIN)/flask --app wsgi tracker serve --host $(HOST) --port $(PORT)

test: install-test translations
	$(BIN)/python scripts/run_tests.py

audit: install-test
	$(BIN)/python scripts/audit_deps.py

bench: install
	$(BIN)/python bench/parse_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache

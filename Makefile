# The two commands of the README:
#   make run    set up (virtualenv, install, database, demo data) and start the app
#               (make run PORT=8080 HOST=0.0.0.0 to serve elsewhere; Ctrl-C stops it)
#   make test   set up and run the whole test suite (SQLite, and PostgreSQL when reachable)

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

BROWSER_PKGS := tests/browser/node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
TEST_WORKERS ?= auto   # pytest-xdist processes (one per core); TEST_WORKERS=0 runs in one process

.PHONY: run test install clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Tanggap needs Python 3.11 or newer (python3.11, python3.12 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tanggap serve --demo --host $(HOST) --port $(PORT)

# The browser tests serve htmx and Leaflet from their npm packages; without npm they skip with a message.
$(BROWSER_PKGS): tests/browser/package.json
	@if command -v npm >/dev/null 2>&1; then npm install --prefix tests/browser --no-save --silent && touch $@; \
	else echo "npm not found: the browser tests will be skipped"; fi

test: $(STAMP) $(BROWSER_PKGS)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-artifacts tests/browser/node_modules

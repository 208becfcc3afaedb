# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each first builds what it needs: a Python virtual environment with the pinned
# toolchain, Anvil from npm, and the compiled contracts.

VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3.11
export PATH := $(CURDIR)/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

CONTRACTS := $(shell find contracts -name '*.vy' -o -name '*.vyi')

.PHONY: setup demo test test-deep bench lint clean

setup: $(VENV)/.installed $(VENV)/.path node_modules/.installed .build/__local__.json

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

# The .pth line puts the project's `bin` (Anvil without its disk history), the
# environment's `bin` (the vyper compiler) and npm's Anvil on PATH for every Python
# started from the environment, so `.venv/bin/ape ...` works as the README writes
# it, without activating anything.
$(VENV)/.path: $(VENV)/.installed scripts/project_path.py Makefile
	$(BIN)/python scripts/project_path.py $(CURDIR)/bin $(CURDIR)/$(BIN) $(CURDIR)/node_modules/.bin
	touch $@

# `npm ci` rejects a lock file without the other platforms' optional anvil builds; install keeps to the lock.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund
	touch $@

.build/__local__.json: $(VENV)/.installed $(CONTRACTS)
	$(BIN)/ape compile
	touch $@

demo: setup
	$(BIN)/ape run demo

test: setup
	$(BIN)/ape test

test-deep: setup
	HYPOTHESIS_PROFILE=deep $(BIN)/ape test tests/fuzz

lint: setup
	$(BIN)/ruff check inverse scripts tests
	$(BIN)/ruff format --check inverse scripts tests

clean:
	rm -rf $(VENV) node_modules .build

bench: setup
	$(BIN)/ape run bench

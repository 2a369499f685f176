# The two commands of the README, and the rest of the developer loop.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint format typecheck browser-deps clean bench coverage mutation

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/stewardship db upgrade
	$(BIN)/stewardship demo --if-empty
	$(BIN)/stewardship serve --host $(HOST) --port $(PORT)

# Every test run measures branch coverage (CI calls `make test`), so the figures in
# docs/coverage.md come from the same run as the results. PYTEST_ARGS adds options:
# `make test PYTEST_ARGS="-x tests/unit"`.
COVERAGE_ARGS ?= --cov=stewardship --cov-branch --cov-report=term:skip-covered
PYTEST_ARGS ?=

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(COVERAGE_ARGS) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not browser" $(PYTEST_ARGS)

# The whole suite with branch coverage written out as well: htmlcov/ and coverage.xml.
coverage: $(STAMP) browser-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(COVERAGE_ARGS) \
		--cov-report=html --cov-report=xml $(PYTEST_ARGS)

# Mutation testing of every context's rules.py against the unit tests of those rules
# (settings in setup.cfg [mutmut]); results stay in mutants/, `mutmut results` lists the
# survivors and `mutmut show <name>` shows one. docs/mutation.md has the last scores.
mutation: $(STAMP)
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

# Debian's Chromium for the browser tests; skipped quietly where apt is not ours to use.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Chromium could not be installed; browser tests will skip"; \
	fi

# The small benchmark world (CI smoke, under two minutes); medium and world scales:
# `$(BIN)/stewardship bench --scale medium|world --db sqlite|postgresql`.
bench: $(STAMP)
	$(BIN)/stewardship bench --scale small --db sqlite

# The code is formatted by hand to the house style; ruff checks it, it does not reformat it.
lint: $(STAMP)
	$(BIN)/ruff check src tests

format: $(STAMP)
	$(BIN)/ruff check --fix src tests

typecheck: $(STAMP)
	$(BIN)/mypy src/stewardship/core src/stewardship/*/rules.py

clean:
	rm -rf $(VENV) var .pytest_cache mutants htmlcov coverage.xml .coverage

# The two commands of the README, and the rest of the developer loop.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# HTTPS (the PACT API answers over HTTPS only): make run TLS_CERT=var/tls.pem TLS_KEY=var/tls.key
TLS_CERT ?=
TLS_KEY ?=
# Every package `make` installs, at one version each with the hashes of its files: the same
# environment on every machine, whatever the index has published since. `make lock`
# refreshes it from pyproject.toml and requirements/build.in.
LOCK := requirements.txt
LOCK_INDEX ?= https://pypi.org/simple
UV_VERSION ?= 0.13.9

.PHONY: run test test-fast lint format typecheck browser-deps clean bench lock coverage mutation

# pip refuses any file whose hash the lock does not list; the project itself is then put
# on the path in place (its dependencies are all in the lock; the build backend too).
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve the lock after a change to pyproject.toml, keeping every other version as it
# is; `make lock UPGRADE=1` moves everything to the newest versions the bounds allow. The
# lock holds every platform's wheels and Python 3.11 upward, and is resolved on PyPI alone
# (--no-config: no local uv settings or extra indexes leak into it).
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile --quiet --no-config --default-index $(LOCK_INDEX) \
		pyproject.toml requirements/build.in --extra dev \
		--universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o $(LOCK)

run: $(STAMP)
	$(BIN)/stewardship db upgrade
	$(BIN)/stewardship demo --if-empty
	$(BIN)/stewardship serve --host $(HOST) --port $(PORT) $(if $(TLS_CERT),--tls-cert $(TLS_CERT) --tls-key $(TLS_KEY))

# `make test` (what CI runs) is the whole suite without coverage: measuring branches slows
# the EPCIS and custody tests enough to take the suite past 20 minutes on two cores.
# `make coverage` runs the same suite with branch coverage (docs/coverage.md has the last
# figures). PYTEST_ARGS adds options to the first call: `make test PYTEST_ARGS="-x"`.
COVERAGE_ARGS ?= --cov=stewardship --cov-branch --cov-report=term:skip-covered
PYTEST_ARGS ?=

# The browser tests run in a second call of their own, in one process: one server and one
# Chromium for all of them (xdist's groups do not hold them to one worker on this pytest).
test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -n 2 -m "not browser" --durations=15 $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m browser tests/browser

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not browser" $(PYTEST_ARGS)

# The whole suite with branch coverage written out as well: htmlcov/ and coverage.xml.
coverage: $(STAMP) browser-deps
	$(BIN)/python -m pytest -n 2 -m "not browser" $(COVERAGE_ARGS) --cov-report= $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m browser tests/browser $(COVERAGE_ARGS) --cov-append \
		--cov-report=html --cov-report=xml

# Mutation testing of every context's rules.py against the unit tests of those rules
# (settings in setup.cfg [mutmut]); results stay in mutants/, `mutmut results` lists the
# survivors and `mutmut show <name>` shows one. docs/mutation.md has the last scores.
# MUTANTS narrows the run to mutant names (globs): `make mutation MUTANTS='stewardship.custody.rules*'`;
# MUTATION_CHILDREN is how many mutants run at once.
MUTANTS ?=
MUTATION_CHILDREN ?= 2
mutation: $(STAMP)
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/mutmut results

# The tests that depend on the calendar, run three times under time travel (tests/today.py):
# from 23:59:50 UTC today (the run crosses midnight), on 5 January of next year and five
# years on. SQLite only: the day is the platform's clock, not the database's.
DATE_TESTS := tests/test_clock.py tests/integration/test_organizations.py \
	tests/integration/test_audit_firms.py tests/integration/test_assurance_certificates.py \
	tests/integration/test_assurance_refusals.py tests/integration/test_custody_ledger.py \
	tests/integration/test_standard_setting.py tests/api/test_assurance_api.py \
	tests/api/test_custody_api.py tests/api/test_standards_api.py \
	tests/api/test_time_zones.py tests/interop/test_epcis_time_zones.py
.PHONY: test-dates
test-dates: $(STAMP)
	@set -e; for at in $$($(BIN)/python tests/today.py); do \
		echo "Date-sensitive tests as if the run started at $$at"; \
		STEWARDSHIP_TEST_TRAVEL=$$at $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider \
			-k "not postgresql" $(DATE_TESTS); \
	done

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
	$(BIN)/mypy src/stewardship/core src/stewardship/*/rules.py src/stewardship/*/*/rules.py

clean:
	rm -rf $(VENV) var .pytest_cache mutants htmlcov coverage.xml .coverage

# GP Online. `make run` serves the API; `make test` runs the whole suite.
# Both create .venv on first use: `make run` installs what serving needs, `make test` (and
# every other target) adds the development tools; each set is installed once.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNTIME_STAMP := $(VENV)/.runtime-stamp
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on \
	-c constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test chaos lint typecheck install migrate openapi clean bench bench-scale soak e2e \
	browser-test mutation

# What serving needs: the service's pinned dependencies, without the development tools.
# Nothing to install where the development set below is in place and up to date.
$(RUNTIME_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test $(STAMP) -nt pyproject.toml && test $(STAMP) -nt constraints.txt || { \
		echo "Installing the pinned dependencies into $(VENV) (the first time takes a minute or two)…"; \
		$(PIP_INSTALL) -e .; }
	touch $(RUNTIME_STAMP)

# The same, with the development tools (tests, linters, type checker, browser, profilers).
# It holds the serving set too, so `make run` after `make test` installs nothing.
$(STAMP): pyproject.toml constraints.txt
	@echo "Installing the pinned dependencies and development tools into $(VENV) (the first time takes a few minutes)…"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[dev]'
	touch $(RUNTIME_STAMP) $(STAMP)

install: $(STAMP)

# The app's tables, then the sandbox GP systems' (their own history, rows kept).
migrate: $(RUNTIME_STAMP)
	$(BIN)/alembic upgrade head
	$(BIN)/python -m app.adapters.sandbox migrate

# Unless the caller sets PUBLIC_BASE_URL, `python -m app` derives it from HOST and PORT
# (http://127.0.0.1:PORT for HOST=0.0.0.0) and prints it. The dev NHS login stand-in's
# RSA key is made under var/ on first start. Beside it, in a second process that stops
# with it, the GP Connect patient-facing stand-in (app/standin) serves the sandbox's data
# of STANDIN_PRACTICES on loopback port STANDIN_PORT: D84004 (Meadow View Surgery), which
# app/gp/practices.json reaches over GP Connect there (its endpoints and the dev token
# exchange name port 8010). The service exchanges the dev NHS login's ID tokens there,
# and the stand-in enforces the tokens it issues; STANDIN_ARGS=--open-access takes any.
STANDIN_PORT ?= 8010
STANDIN_PRACTICES ?= D84004
STANDIN_ARGS ?=
run: migrate
	@$(BIN)/python -m app.standin --port $(STANDIN_PORT) \
		$(foreach practice,$(STANDIN_PRACTICES),--practice $(practice)) $(STANDIN_ARGS) & standin=$$!; \
	trap 'kill $$standin 2>/dev/null; wait $$standin 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/python -m app

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

# Fault injection (tests/chaos/, marked `chaos`, left out of `make test`): the service in
# real processes meets misbehaving clients and failing dependencies, on loopback, each case
# bounded in seconds. .ci/run calls it after `make test`. CHAOS_ARGS="-k drip".
chaos: install
	$(BIN)/pytest -m chaos tests/chaos $(CHAOS_ARGS)

# Swagger UI and ReDoc under the CSP in a real browser (installs Debian's Chromium).
browser-test: install
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	REQUIRE_BROWSER=1 $(BIN)/pytest tests/api/test_docs_in_a_browser.py $(PYTEST_ARGS)

# Load benchmarks against the running service (bench/README.md): wrk from Debian's packages
# drives `python -m app` on PostgreSQL, with the sandbox practices in its process, then with
# the GP Connect practice served by the stand-in (app/standin) in a process of its own.
# BENCH_ARGS="--workers 1 --latency 200 --seconds 10"; "--no-gpconnect" for older code.
bench: install
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python bench/load.py $(BENCH_ARGS)

# An hour of mixed load on two workers, sampling each worker's memory (bench/soak.py); not
# in CI. SOAK_ARGS="--minutes 120 --workers 1".
soak: install
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# One and two instances (one worker each) sharing PostgreSQL behind HAProxy from Debian.
bench-scale: install
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || (apt-get update && apt-get install -y haproxy)
	$(BIN)/python bench/load.py --instances 1 2 --workers 1 --latency 200 $(BENCH_ARGS)

# Mutation testing of the security- and safety-critical modules, each with its own tests
# (mutation/run.py; not part of `make test`). MUTATION_ARGS="oidc rules --max-children 1".
mutation: install
	$(BIN)/python mutation/run.py $(MUTATION_ARGS)

openapi: install
	$(BIN)/python -m app.openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) var mutants .pytest_cache .mypy_cache .ruff_cache

# A real browser through Swagger UI (e2e/): Debian's chromium, installed here if missing.
e2e: install
	command -v chromium || (apt-get update && apt-get install -y chromium)
	$(BIN)/pytest e2e -p no:cacheprovider $(E2E_ARGS)

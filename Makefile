# GP Online. `make run` serves the API; `make test` runs the whole suite.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test chaos lint typecheck install migrate openapi clean bench bench-scale soak e2e \
	browser-test mutation

$(STAMP): pyproject.toml constraints.txt
	@echo "Installing the pinned dependencies into $(VENV) (the first time takes a few minutes)…"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on \
		-c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The app's tables, then the sandbox GP systems' (their own history, rows kept).
migrate: install
	$(BIN)/alembic upgrade head
	$(BIN)/python -m app.adapters.sandbox migrate

# The dev NHS login stand-in sends the browser back to PUBLIC_BASE_URL: follow HOST and PORT
# unless the caller set it. The stand-in's RSA key is made under var/ on first start.
run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: migrate
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
# drives `python -m app` on PostgreSQL. BENCH_ARGS="--workers 1 --latency 200 --seconds 10".
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

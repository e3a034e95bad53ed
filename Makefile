# Two commands from a fresh clone: `make run` and `make test`. Everything else is a step of those.
# The virtual environment is the Makefile's own (.venv); nothing needs installing by hand.
# DATABASE_URL, HOST and PORT are read from the environment (see README.md).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCN    := $(BIN)/scn

# Debian packages the tests drive (headless Chromium for the docs page, Graphviz for the model's
# picture, nginx and envsubst for the caching proxy of deploy/nginx.conf). Installed when
# missing, so a fresh machine needs nothing by hand (apt needs root).
TEST_PACKAGES := chromium graphviz nginx gettext-base
# The benchmark's load generator and its static-file ceiling (`make bench`).
BENCH_PACKAGES := wrk nginx
BENCH_VENV := bench/.venv

.PHONY: run test install db load lint format typecheck pytest pytest-fast clean system-packages \
	model-picture docs-screenshot bench bench-scaleout bench-sync

run: load ## Set everything up on the default SQLite database and serve the API
	$(SCN) serve

test: load lint typecheck pytest ## Set up as `run` does, then lint, type-check and run every test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

db: install ## Upgrade the database schema to the newest revision
	$(SCN) db upgrade

load: db ## Load seeds/ into the database
	$(SCN) load

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

pytest: install system-packages
	$(BIN)/pytest

pytest-fast: install ## The suite without tests marked slow
	$(BIN)/pytest -m "not slow"

model-picture: load ## Redraw docs/img/model.svg from seeds/ (tests/test_graph.py says when it is due)
	$(SCN) graph -o docs/img/model.svg

docs-screenshot: install system-packages ## Retake docs/img/docs.png (/docs in headless Chromium)
	UPDATE_DOCS_SCREENSHOT=1 $(BIN)/pytest -q tests/test_docs_browser.py

# The benchmark (docs/PERFORMANCE.md): the API on SQLite against Datasette and nginx, and the API on
# PostgreSQL (BENCH_POSTGRES_URL's server) beside it, in one run, on a synthetic data set of
# BENCH_RECORDS (default 1000000) records; knobs in bench/run.py. Not part of `make test`.
bench: install $(BENCH_VENV)/.installed
	@$(MAKE) --no-print-directory system-packages TEST_PACKAGES="$(BENCH_PACKAGES)"
	$(BENCH_VENV)/bin/python bench/run.py

# Two API servers behind deploy/nginx.conf against one alone (docs/PERFORMANCE.md, "Scaling out"),
# on PostgreSQL (BENCH_POSTGRES_URL's server) with seeds/ loaded; knobs in bench/scaleout.py.
bench-scaleout: install
	@$(MAKE) --no-print-directory system-packages TEST_PACKAGES="$(BENCH_PACKAGES) gettext-base"
	$(BIN)/python bench/scaleout.py

# `scn mirror` at scale (docs/PERFORMANCE.md, docs/SYNC.md): snapshot and catch-up of a synthetic
# publisher into SQLite and PostgreSQL, beside the source's own export time. Sizes in
# BENCH_SYNC_RECORDS (default 100000,1000000); knobs in bench/sync.py. Not part of `make test`.
bench-sync: install
	$(BIN)/python bench/sync.py

# Datasette, matplotlib and py-spy in a virtual environment of their own: the project's pinned
# dependencies stay as they are.
$(BENCH_VENV)/.installed: bench/requirements.txt bench/constraints.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt -c bench/constraints.txt
	@touch $@

system-packages:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(BENCH_VENV) bench/var

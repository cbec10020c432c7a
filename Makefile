# The two commands of the README: `make demo` and `make test`. Everything runs in .venv,
# created on first use from the python3 on PATH (3.11 or newer).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Interpreters that pyenv may provide for the Django 6.x leg (ignored where absent).
export PYENV_VERSION ?= $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.1[1-9]\.' | tr '\n' ':' | sed 's/:$$//')

.PHONY: demo test test-django6 lint types docs pytest package system-deps bench bench-e2e bench-streaming clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Serve demo_project under gunicorn on 127.0.0.1:8000 (SQLite, migrated first; the
## database cache, or Redis when REDIS_URL is set, shared by the workers), with a
## task worker (db_worker) for its webhook-store handler, started again whenever it
## exits (demo_project/keep_running.py); Ctrl-C stops both.
demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@$(BIN)/python demo_project/keep_running.py $(BIN)/python manage.py db_worker --queue-name '*' --no-reload & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/python -m gunicorn -c demo_project/gunicorn.conf.py demo_project.wsgi

## The whole suite: lint, types, docs (warnings are errors), the tests with coverage, then
## the package as users get it.
test: lint types docs pytest package

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

pytest: $(STAMP) system-deps
	$(BIN)/python -m pytest --cov --cov-report=term

## Build the sdist and wheel, `twine check` them, install the wheel into a fresh
## virtualenv and run a small project on it (.ci/package-smoke says what is checked).
package: $(STAMP)
	$(BIN)/python .ci/package-smoke

## Debian packages the browser test needs (chromium); installs only what is missing. Where
## that is impossible (no root), the browser test is skipped, except under CI=true.
system-deps:
	@.ci/install-system-deps || echo "make: could not install the browser; tests/test_browser.py will say why it is skipped"

## The same tests on Django 6.x, with every Python 3.12+ that is installed (via nox).
test-django6: $(STAMP)
	$(BIN)/nox --session django6

## hookpipe's per-request cost against plain Django, in process (bench/RESULTS.md).
bench: $(STAMP)
	$(BIN)/python bench/run.py --rounds 9

## The demo under gunicorn and uvicorn, loaded with wrk (apt-get install wrk); about two minutes.
bench-e2e: $(STAMP)
	$(BIN)/python bench/e2e.py

## 128 MiB streamed across modes under gunicorn and uvicorn, read by curl; about a minute.
bench-streaming: $(STAMP)
	$(BIN)/python bench/streaming.py --rounds 5

clean:
	rm -rf $(VENV) .nox docs/_build .coverage htmlcov .pytest_cache .mypy_cache .ruff_cache

# The README's commands. Everything installs itself on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_PASSWORD ?= snapshots-demo
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test screenshots bench lint browser migrate reliability reliability-db-restart wrk mutation mutation-sample

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

run: migrate
	$(PY) manage.py demo --password "$(DEMO_PASSWORD)"
	@echo
	@echo "  Snapshots is starting on http://$(HOST):$(PORT)/"
	@echo "  Sign in at http://$(HOST):$(PORT)/accounts/login/ as admin, editor or viewer (password: $(DEMO_PASSWORD))."
	@echo "  Ctrl-C stops the web server and the worker."
	@echo
	@trap 'kill 0' INT TERM EXIT; \
	  $(PY) manage.py qcluster & \
	  $(PY) manage.py runserver --noreload $(HOST):$(PORT) & \
	  wait

# Browser tests drive Debian's chromium (Playwright's own download cannot work here).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi; }

# Every test but the reliability ones (skipped here: `make reliability` runs them).
# PYTEST_ARGS adds options, e.g. CI's minimum counts (tests/ci_counts.py).
test: install browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Refresh the README's pictures: the browser tests save their screenshots into docs/.
screenshots: install browser
	SCREENSHOT_DIR=$(CURDIR)/docs $(PY) -m pytest -q tests/e2e

# Real qcluster and gunicorn processes, a stand-in Jira, workers killed on purpose: minutes,
# so not part of `make test`. They run on the stack the environment names, e.g.
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/snapshots_rel REDIS_URL=redis://127.0.0.1:6379/5 make reliability
# Q_CLUSTER_NAME keeps their queue and cache keys apart from anything else on that Redis.
RELIABILITY_TESTS ?= tests/reliability
reliability: install
	SNAPSHOTS_RELIABILITY=1 Q_CLUSTER_NAME=$${Q_CLUSTER_NAME:-snapshots-test-$$$$} $(PY) -m pytest -q $(PYTEST_ARGS) $(RELIABILITY_TESTS)

# Stops and starts the machine's PostgreSQL (a few seconds): only on a machine of your own.
reliability-db-restart: install
	SNAPSHOTS_RELIABILITY=1 SNAPSHOTS_DB_RESTART=1 Q_CLUSTER_NAME=$${Q_CLUSTER_NAME:-snapshots-test-$$$$} \
	  $(PY) -m pytest -q $(PYTEST_ARGS) tests/reliability/test_database_restart.py

# The load benchmarks drive wrk (Debian's package).
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q wrk; \
	  else sudo apt-get update -q && sudo apt-get install -y -q wrk; fi; }

# Mutation testing of the core (setup.cfg's [mutmut] names the modules) with the fast tests;
# hours. Two children: each runs its tests in a SQLite test database of its own (the root
# conftest.py names it after the child's pid; mutmut forks the children after the settings
# were read). The score per module: docs/mutation.md, tests/mutation_score.py.
mutation: install
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2 || true
	$(PY) tests/mutation_score.py

# A sample: about 30 mutants picked at random (MUTATION_SEED fixes the pick), two children;
# it fails under 40 % killed (a broken set-up, not a score).
mutation-sample: install
	$(PY) tests/mutation_score.py --sample $${MUTATION_SAMPLE:-30} --children 2

lint: install
	$(VENV)/bin/ruff check .

bench: install wrk
	$(PY) bench/run_all.py

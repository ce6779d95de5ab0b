# `make run` and `make test` set up everything they need on a fresh machine
# with Python 3.11+: a virtualenv in .venv with the pinned requirements.
# `make stack` needs PostgreSQL and Redis installed too (see bin/stack and docs/DEPLOY.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run test lint venv load stack bench

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST)

# gunicorn, a Celery worker and beat under honcho, on the machine's PostgreSQL and Redis; Ctrl-C stops it.
stack: venv
	GUNICORN_BIND=$(HOST) bin/stack

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

# Bounded load tests against gunicorn, PostgreSQL and Redis on loopback (filing requests, and the
# release moment of a procedure's archives; LOAD_SCENARIO picks one); writes bench/REPORT.md.
load: venv
	$(BIN)/python bench/load.py

# The benchmarks and their targets at national scale (not part of `make test`): PostgreSQL and Redis
# from DATABASE_URL / REDIS_URL (default: a database fisoko_bench, created if missing, and Redis db 8),
# gunicorn, a Celery worker, SMTP, SMSC and clamd servers on loopback; writes bench/REPORT.md.
bench: venv
	$(BIN)/python -m bench.run

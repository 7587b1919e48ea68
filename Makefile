# Throughline: `make run` serves the app with its workers; `make test` runs every test.
# Both work from a fresh clone with only Python 3.12 and make: uv is installed
# into .tools/ when missing, PostgreSQL is embedded unless DATABASE_URL is set,
# and the broker is the filesystem unless CELERY_BROKER_URL is set.

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export PYTHONUNBUFFERED := 1
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve manage test install lint format migrate provision worker beat web db-stop clean help bench load

help:
	@echo "make run      serve http://$(HOST):$(PORT)/ with a worker and beat (demo org loaded)"
	@echo "make serve    the same without migrating or loading the demo"
	@echo "make test     lint, then the whole test suite (browser tests need Debian's chromium)"
	@echo "make lint     ruff check and format check"
	@echo "make db-stop  stop the embedded PostgreSQL server"
	@echo "make manage ARGS=\"kpis --org acme-health ...\"  a manage.py command (as bin/throughline kpis ...)"
	@echo "make bench    import 1M flow items and time the metrics (BENCH_ARGS=\"--items N --runs K --keep\")"
	@echo "make load     load-test the demo under gunicorn with wrk (LOAD_SECONDS=60 LOAD_CONNECTIONS=10)"

$(CURDIR)/.tools/bin/uv:
	python3 -m pip install --quiet --disable-pip-version-check --target $(CURDIR)/.tools uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: .venv/.installed

provision: install
	@if [ -n "$$DATABASE_URL" ]; then $(PY) manage.py provision_db; fi

migrate: provision
	$(PY) manage.py migrate --verbosity 0

run: migrate
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Throughline is starting at http://$(HOST):$(PORT)/"
	@echo "  Sign in at http://$(HOST):$(PORT)/accounts/login/ as admin@acme-health.example / throughline-demo"
	@echo "  (also editor@acme-health.example and viewer@acme-health.example, same password)"
	@echo "  (web server, Celery worker and beat below; Ctrl-C stops them all, and the embedded database)"
	@echo ""
	$(serve)

# The web server, a Celery worker and beat (honcho runs the Procfile). On Ctrl-C
# honcho sends SIGTERM to each process's group, and SIGKILL to what still runs 5 s
# later (honcho.manager.KILL_WAIT, which no option sets). A prefork worker on the
# filesystem broker needs about 6 s to stop even when idle (up to 2 s for its
# polling loop to see the signal, then the one-second ticks of its pool's
# threads and timer), so honcho waits 20 s here; the Procfile makes that stop a
# cold one, which puts the running tasks back in the queue rather than waiting
# for them. When honcho is done, the embedded database stops too if this make
# started it; one already running may serve another run, tests or commands.
HONCHO := $(PY) -c "import sys, honcho.command, honcho.manager; honcho.manager.KILL_WAIT = 20; sys.argv[0] = 'honcho'; honcho.command.main()"
DB_STOP := $(PY) -c "from config import database; database.embedded_server_stop()"
# Read when make starts, before any recipe may start the server.
DB_WAS_RUNNING := $(wildcard $(or $(THROUGHLINE_DATA_DIR),.data)/postgres/postmaster.pid)
define serve
	@stop_db() { \
	  if [ -n "$$DATABASE_URL" ]; then return; fi; \
	  if [ -n "$(DB_WAS_RUNNING)" ]; then \
	    echo "the embedded PostgreSQL server was running before and keeps running; make db-stop stops it"; \
	  else $(DB_STOP); fi; \
	}; \
	trap stop_db EXIT; \
	HOST=$(HOST) PORT=$(PORT) $(HONCHO) start -f Procfile || [ $$? -eq 130 ]  # Ctrl-C: the normal end
endef

serve: install
	$(serve)

# A management command in the project's environment; bin/throughline does the same.
manage: install
	@$(PY) manage.py $(ARGS)

# pytest-xdist spreads the tests over the cores (TEST_WORKERS=0 runs them in one
# process); each worker has its own test database.
TEST_WORKERS ?= auto
test: install lint provision
	.venv/bin/pytest -n $(TEST_WORKERS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# Not part of `make test`: a million flow items take minutes (bench/run.py).
bench: migrate
	$(PY) -m bench.run $(BENCH_ARGS)

# Not part of `make test`: seeds the demo, then a minute of load (bench/load/run.py).
# The load generator is Debian's wrk, installed here when missing (as root).
load: migrate
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; } \
	  || { echo "make load needs wrk: apt-get install --no-install-recommends wrk"; exit 2; }
	$(PY) -m bench.load.run

db-stop: install
	$(DB_STOP)

clean:
	rm -rf .venv .tools staticfiles

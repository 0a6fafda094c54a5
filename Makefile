# carhistory — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/carhistory
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: help install run test lint format messages static services-up check-services chromium worker beat bench-ledger bench-ingest bench-report bench-reliability bench-witness

help:
	@echo "make run    install, migrate, create the log key, load demo data, serve on :$(PORT)"
	@echo "make test   install, lint, and run the whole suite on PostgreSQL and Redis"

# --- installing ---------------------------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml verifier/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Browser libraries come from npm (package-lock.json) and are served from static/vendor/:
# Chart.js as published, and @noble/curves + @noble/hashes bundled by esbuild (pinned in the
# lock file too) into one script that sets the global `carhistoryNoble` for verify-core.js.
static/vendor/.installed: node_modules/.installed browser/noble.js Makefile
	mkdir -p static/vendor
	cp node_modules/chart.js/dist/chart.umd.js static/vendor/chart.umd.js
	# chart.umd.js names its source map, so the production build's manifest needs it too.
	cp node_modules/chart.js/dist/chart.umd.js.map static/vendor/chart.umd.js.map
	node_modules/.bin/esbuild browser/noble.js --bundle --format=iife --global-name=carhistoryNoble \
	  --target=es2020 --minify --legal-comments=inline --log-level=warning --outfile=static/vendor/noble.js
	touch $@

/usr/bin/msgfmt:
	apt-get update -qq && apt-get install -y -qq gettext

messages: /usr/bin/msgfmt $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0

static: $(VENV)/.installed static/vendor/.installed
	$(PY) manage.py collectstatic --no-input -v 0

install: $(VENV)/.installed static/vendor/.installed messages static

# --- running ------------------------------------------------------------------------------
run: install
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py create_log_key --if-missing
	$(PY) manage.py load_demo --site http://127.0.0.1:$(PORT)
	$(PY) manage.py run_demo 127.0.0.1:$(PORT)

worker: install
	$(VENV)/bin/celery -A carhistory worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A carhistory beat --loglevel=INFO

# --- testing ------------------------------------------------------------------------------
/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium

chromium: /usr/bin/chromium

# Fails loudly: the suite never skips its PostgreSQL and Redis tests.
check-services: $(VENV)/.installed
	@$(PY) -c "import psycopg2; psycopg2.connect('$(TEST_DATABASE_URL)'.rsplit('/', 1)[0] + '/postgres').close()" \
	  || { echo "PostgreSQL is not running on 127.0.0.1:5432. Start it: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start" >&2; exit 1; }
	@$(PY) -c "import redis; redis.Redis.from_url('$(TEST_REDIS_URL)').ping()" \
	  || { echo "Redis is not running on 127.0.0.1:6379. Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no" >&2; exit 1; }

lint: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	node_modules/.bin/eslint --max-warnings=0 static/js browser tests/js eslint.config.js
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install chromium check-services lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CELERY_TASK_ALWAYS_EAGER=1 \
	  $(VENV)/bin/pytest $(PYTEST_ARGS)

bench-ledger: install check-services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/ledger.py

bench-ingest: install check-services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/ingest.py

/usr/bin/wrk:
	apt-get update -qq && apt-get install -y -qq wrk

bench-report: install check-services /usr/bin/wrk
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/report.py

# Its own database and its own redis-server on port 18810; never stops the shared ones.
bench-reliability: install check-services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/reliability.py

bench-witness: install check-services
	$(PY) bench/witness.py
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/witnessing.py

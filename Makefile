# Convene: `make run` to run it, `make test` to test it, `make bench` to measure it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export CONVENE_VAR_DIR ?= $(CURDIR)/var
WEB_PORT ?= 8000
SMTP_PORT ?= 1025

.PHONY: run test lint bench requirements install install-dev migrate seed clean jsdeps jsdeps-optional

# uv (from PyPI, into the venv) installs the pinned requirements quickly and exactly, with their
# bytecode compiled: where PYTHONDONTWRITEBYTECODE is set (as on our machines), every process
# would otherwise compile every module it imports, each time it starts.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.base-installed: requirements/base.txt | $(UV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --compile-bytecode -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/dev.txt | $(UV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --compile-bytecode -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

install: $(VENV)/.base-installed
install-dev: $(VENV)/.dev-installed

# The scanner page's QR decoder comes from the npm registry at a pinned version, not the repo.
node_modules/jsqr/dist/jsQR.js: package.json
	npm install --no-audit --no-fund --no-package-lock --silent
	touch $@
jsdeps: node_modules/jsqr/dist/jsQR.js

# `make run` works without npm too: the scanner page then needs a browser with BarcodeDetector.
jsdeps-optional:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory jsdeps; \
	else echo "npm not found: skipping jsQR (the scanner page will use the browser's BarcodeDetector)"; fi

# Re-pin after editing pyproject.toml. uv's output records no download addresses.
requirements: | $(UV)
	$(UV) pip compile pyproject.toml -o requirements/base.txt --python-version 3.11 -q
	$(UV) pip compile pyproject.toml --extra dev -o requirements/dev.txt --python-version 3.11 -q

migrate: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput -v0

# Web, worker, beat and the SMTP catcher in one terminal; Ctrl-C stops them all.
run: install jsdeps-optional migrate
	@export DJANGO_DEBUG=$${DJANGO_DEBUG:-1} EMAIL_PORT=$(SMTP_PORT) \
	  PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(WEB_PORT)}; \
	$(PY) manage.py seed_demo && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	echo "" && \
	echo "  API docs     http://127.0.0.1:$(WEB_PORT)/api/docs/" && \
	echo "  Events       http://127.0.0.1:$(WEB_PORT)/api/v1/events/" && \
	echo "  Admin        http://127.0.0.1:$(WEB_PORT)/admin/  (python manage.py createsuperuser)" && \
	echo "  Mail caught  $(CONVENE_VAR_DIR)/mail/  (SMTP on 127.0.0.1:$(SMTP_PORT))" && \
	echo "" && \
	WEB_PORT=$(WEB_PORT) SMTP_PORT=$(SMTP_PORT) exec $(VENV)/bin/honcho -f Procfile start

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-dev jsdeps lint
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py makemigrations --check --dry-run -v0 || (echo "models changed without a migration" && exit 1)
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	@# `make run` keeps its data in SQLite: after a PostgreSQL run, the tests of what differs by
	@# database (migrations and their triggers, hand-written SQL, seat and outbox logic) run there too.
	@if [ -n "$$DATABASE_URL" ] && [ -z "$(PYTEST_ARGS)" ]; then \
		echo "pytest on SQLite (the embedded stack's database)"; \
		env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest -q tests/registrations tests/sessions tests/notifications/test_outbox.py; \
	fi

bench: install-dev
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache

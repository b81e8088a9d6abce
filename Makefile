# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step they call.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgres test-deps screenshots install system-deps assets translations db demo check-compose clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

# Debian packages the tests need (Chromium, nginx, docker-compose); installs only what is missing.
system-deps:
	@scripts/system-deps.sh

# JavaScript the browser journeys inject into pages (axe-core), pinned by tests/journeys/package-lock.json.
JOURNEY_JS := tests/journeys/node_modules/axe-core/axe.min.js
$(JOURNEY_JS): tests/journeys/package.json tests/journeys/package-lock.json
	npm ci --prefix tests/journeys --no-audit --no-fund --loglevel=error
	@touch $@

test-deps: $(JOURNEY_JS)

assets: install
	$(BIN)/python assets/build.py

# Compiles translations/*/LC_MESSAGES/messages.po into the .mo files the app reads. The .mo files are build
# output (not committed), so run, test and CI build them first. Fuzzy entries are guesses: they are left out.
# (`--quiet` goes before the subcommand: `pybabel compile` itself has no -q.)
translations: install
	@$(BIN)/pybabel --quiet compile -d translations && echo "compiled translations: $$(ls translations/*/LC_MESSAGES/messages.po | cut -d/ -f2 | tr '\n' ' ')"

db: install
	$(FLASK) db upgrade

demo: db
	@mkdir -p instance
	@test -s instance/demo-admin-password || $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))' > instance/demo-admin-password
	$(FLASK) seed demo --posts 24 --admin-password "$$(cat instance/demo-admin-password)"

# Serves the blog on the embedded default (SQLite, local media, inline jobs) with demo content.
run: install translations demo
	@echo ""
	@echo "  Blog:        http://$(HOST):$(PORT)/"
	@echo "  Admin login: demo-admin / $$(cat instance/demo-admin-password)"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT)

# Runs the whole suite on PostgreSQL when one answers at PG_TEST_URL, then again on SQLite.
test: install system-deps test-deps translations
	@if $(BIN)/python -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$(PG_TEST_URL)" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL is not reachable at $(PG_TEST_URL): running on SQLite only"; fi
	$(MAKE) --no-print-directory test-sqlite

test-postgres: install test-deps translations
	@echo "== test suite on PostgreSQL ($(PG_TEST_URL))"
	BLOG_TEST_DATABASE=$(PG_TEST_URL) $(BIN)/pytest $(PYTEST_ARGS)

test-sqlite: install translations
	@echo "== test suite on SQLite"
	BLOG_TEST_DATABASE=sqlite $(BIN)/pytest $(PYTEST_ARGS)

# Regenerates the README's screenshots (docs/screenshots) from the browser journeys, on PostgreSQL.
screenshots: install system-deps test-deps translations
	BLOG_README_SCREENSHOTS=docs/screenshots BLOG_TEST_DATABASE=$(PG_TEST_URL) $(BIN)/pytest -q tests/journeys
	@ls docs/screenshots

# Validates docker-compose.yml without a Docker engine (Debian's docker-compose package).
check-compose:
	SECRET_KEY=check POSTGRES_PASSWORD=check MINIO_ROOT_PASSWORD=check docker-compose --env-file .env.example config -q
	@echo "docker-compose.yml is valid"

clean:
	rm -rf $(VENV) .pytest_cache

# Two commands do all the setup: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint superuser migrate frontend frontend-check bench bench-full bench-persistence clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/python manage.py migrate --noinput

run: migrate
	@echo "Serving on http://$(HOST):$(PORT)/  (sign up there, or: make superuser)"
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/daphne -b $(HOST) -p $(PORT) collab.asgi:application

superuser: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/python manage.py createsuperuser

# The official npm Yjs clients the interop tests drive (skipped, with the reason, without npm).
JS_CLIENTS := tests/js/node_modules/.installed
$(JS_CLIENTS): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: $(VENV)/.installed-dev
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(JS_CLIENTS); \
	else echo "npm not found: tests that drive the official Yjs clients will be skipped"; fi
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build

# Rebuild the bundle and fail if it differs from the committed one.
frontend-check: frontend
	@changed="$$(git status --porcelain -- notes/static/notes/build/)"; \
	if [ -n "$$changed" ]; then echo "$$changed"; \
	echo "The committed bundle differs from a fresh build: run make frontend and commit it."; \
	exit 1; fi

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run --quick

bench-full: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run --full
	$(BIN)/python -m bench.persistence

bench-persistence: $(VENV)/.installed-dev
	$(BIN)/python -m bench.persistence

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

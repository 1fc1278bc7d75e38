# Two commands: `make run` (set up and start everything) and `make test` (set up if needed, run every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
TEACHER_PORT ?= 8765
# The services pass of `make test` (PostgreSQL + Redis); override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install browser s3server lint catalog check-deploy clean

# Python's bytecode cache stays on for everything started from here, even where the environment turns it off
# (PYTHONDONTWRITEBYTECODE=1, as on this project's CI machines): the tests start hundreds of processes (workers,
# CLI commands, trainers), and without .pyc files each one compiles Django, transformers and the rest from source
# again (the embedded pass took 12:05 so, 7:02 with them, on the same machine).
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile "torch==2.13.0"
	@# The rest through uv (the same versions, resolved and installed in seconds instead of minutes; torch above
	@# stays as pip installed it); plain pip where uv cannot be installed. Nothing is byte-compiled here: each
	@# module's .pyc is written the first time a process imports it (see unexport above), which skips the thousands
	@# of modules of torch, transformers and the rest that nothing imports (compiling them all took ~30 s here).
	if $(PY) -m pip install --quiet --disable-pip-version-check uv; then \
	  $(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[train,dev]"; \
	else $(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e ".[train,dev]"; fi
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's chromium (never a downloaded browser) and need a CJK font for Chinese pages.
# Installed with apt-get when missing and possible (root); otherwise those tests skip, or fail under REQUIRE_SERVICES=1.
browser:
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1)) || \
	  echo "note: could not install chromium; the browser tests will not run"; \
	else echo "note: chromium missing (apt-get install chromium fonts-wqy-microhei); the browser tests will not run"; fi

# npm packages (package.json): chart.js for the console's charts, and s3rver (an S3-protocol server keeping objects
# on disk) for the several-machine tests. Without npm, pages show tables instead of charts and those tests skip (or
# fail under REQUIRE_SERVICES=1).
s3server: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "note: npm missing; the several-machine (S3) tests will not run"; fi

run: $(STAMP) node_modules/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo --teacher-port $(TEACHER_PORT)
	$(PY) manage.py runstack --port $(PORT) --teacher-port $(TEACHER_PORT)

# Pass 1: the embedded default (SQLite + filesystem broker), exactly what a bare laptop runs.
# Pass 2: the production path (PostgreSQL + Redis). Without them its tests skip with the reason shown, unless
# REQUIRE_SERVICES=1, which turns every skip for a missing service or missing shared data into a failure.
# Each pass runs on TEST_PROCESSES pytest-xdist processes (each with its own DATA_DIR, test database and Redis
# database); the services pass runs only the tests that touch the database, the broker or workers. (Running the two
# passes side by side was tried: 13:55 against 15:10 in a warm checkout, but 18:45 for the tests of a fresh clone,
# slower than one after the other, so they run one after the other.)
TEST_PROCESSES ?= 4
PYTEST := $(PY) -m pytest -n $(TEST_PROCESSES) --durations=25
test: $(STAMP) browser s3server
	env -u DATABASE_URL -u REDIS_URL $(PYTEST)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) TEST_SERVICES_PASS=1 $(PYTEST)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	@# docs/ built as a site (mkdocs.yml) into a folder thrown away after: a link to a missing page or heading fails
	@site=$$(mktemp -d) && $(VENV)/bin/mkdocs build --strict --site-dir $$site; rc=$$?; rm -rf $$site; exit $$rc
	@$(MAKE) --no-print-directory catalog

# The Chinese catalog is complete: every string the pages, forms and services mark for translation has a
# translation that is not fuzzy (makemessages over the tree, into a copy; the catalog itself is left as it is).
CATALOG := locale/zh_Hans/LC_MESSAGES/django.po
catalog: $(STAMP)
	@if ! command -v msgattrib >/dev/null 2>&1; then echo "note: gettext missing; catalog completeness not checked"; exit 0; fi; \
	cp $(CATALOG) $(CATALOG).keep; \
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete -i '.venv/*' -i 'node_modules/*' -i 'tests/*' -i 'bench/*' >/dev/null; \
	missing=$$( (msgattrib --untranslated $(CATALOG); msgattrib --only-fuzzy $(CATALOG)) | grep '^msgid "..*"' ); \
	mv $(CATALOG).keep $(CATALOG); \
	if [ -n "$$missing" ]; then echo "zh_Hans catalog: untranslated or fuzzy:"; echo "$$missing"; exit 1; fi; \
	echo "zh_Hans catalog: complete"

check-deploy: $(STAMP)
	DJANGO_MODE=production ALLOWED_HOSTS=data.example.com \
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
	DATA_DIR=$$(mktemp -d) $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules

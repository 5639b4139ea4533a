# Two commands on a fresh machine:  `make run`  (start the app)  and  `make test`  (the whole suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

.PHONY: install run test check bench chromium
install: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

# Browser tests need Debian's chromium; install it when we can (root + apt), else they are skipped
# locally (CI sets REQUIRE_BROWSER=1 so a missing browser fails there).
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); } || true

# Workshop-mode tests start a throw-away PostgreSQL cluster from Debian's package (tests/workshop_pg.py); install it
# when we can (root + apt), else those tests are skipped locally (CI sets REQUIRE_BROWSER=1 so a missing one fails).
.PHONY: postgresql
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql >/dev/null)); } || true

# The deployment test runs 2 replicas behind Debian's nginx on loopback (tests/test_deploy.py); install it when we
# can (root + apt), else that test is skipped locally (CI sets REQUIRE_BROWSER=1 so a missing nginx fails there).
.PHONY: nginx
nginx:
	@test -x /usr/sbin/nginx || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q --no-install-recommends nginx >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx >/dev/null)); } || true

check: $(VENV)/.dev-installed
	$(BIN)/python -m app.content check

test: $(VENV)/.dev-installed chromium postgresql nginx check
	$(BIN)/python -m pytest -q --durations=15

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.widgets
	$(BIN)/python -m bench.threads

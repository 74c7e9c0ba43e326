# callbot: two commands on a fresh machine.
#   make run   - installs everything, builds the sample data, trains, starts the server
#   make test  - installs everything, runs the test suite without the slow end-to-end checks
#   make test-slow - those checks (trained sample models, whole calls, replicas); CI runs both
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= callbot.yml
# command:Debian package
APT_PACKAGES := espeak-ng:espeak-ng sox:sox fstcompose:libfst-tools
# only for `make test`: the cluster tests put HAProxy (deploy/haproxy/haproxy.cfg) in front of replicas;
# the console's browser tests drive Debian's chromium (Playwright, no browser download) with Korean fonts
TEST_APT_PACKAGES := haproxy:haproxy chromium:chromium /usr/share/fonts/truetype/nanum/NanumGothic.ttf:fonts-nanum

.PHONY: run test test-slow screenshots install system-deps test-deps apt-install data train serve lint format lock clean check-env

# Without TWILIO_AUTH_TOKEN there is nothing to check webhook signatures against: the local server then
# runs with the explicit development switch, and says so.
run: install
	$(BIN)/callbot --config $(CONFIG) data build
	$(BIN)/callbot --config $(CONFIG) train
	@if [ -z "$$TWILIO_AUTH_TOKEN" ]; then \
	  echo "TWILIO_AUTH_TOKEN is not set: serving in --insecure-dev mode (unsigned webhooks accepted)."; \
	  $(BIN)/callbot --config $(CONFIG) serve --insecure-dev; \
	else \
	  $(BIN)/callbot --config $(CONFIG) serve; \
	fi

# Tests marked `slow` (pyproject.toml) are the end-to-end checks: sample models trained, audio decoded,
# whole calls through the server, replicas behind HAProxy. `make test` leaves them out (the fast subset
# for development), `make test-slow` runs only them; CI (.ci/run) runs both, so nothing goes unrun.
test: install test-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: install test-deps
	$(BIN)/python -m pytest -q -m slow

install: system-deps $(STAMP)

# Debian packages: espeak-ng (offline Korean TTS, test audio), sox, and OpenFst's tools (libfst-tools:
# `callbot train` compiles the static phone-call graph with them). Installed only when missing.
system-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

# Installs the Debian packages of PACKAGES (command:package) whose command is missing (PATH or /usr/sbin);
# a "command" that is an absolute path is a file the package installs.
apt-install:
	@missing=""; for p in $(PACKAGES); do c=$${p%%:*}; command -v $$c >/dev/null 2>&1 || [ -x /usr/sbin/$$c ] || [ -e $$c ] || missing="$$missing $${p#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Rasa 3.6 declares Python <3.11 but runs on 3.11: it goes in with --no-deps, its dependencies come
# from the pinned lock (which re-adds numpy/scipy/scikit-learn/dask that its markers drop on 3.11).
$(STAMP): requirements/lock.txt requirements/rasa.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "callbot needs $(PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24"
	$(BIN)/pip install -q -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps --ignore-requires-python -r requirements/rasa.txt
	PYTHONWARNINGS=ignore $(BIN)/pip install -q --no-deps -e .  # setuptools' editable-install notice
	$(MAKE) --no-print-directory check-env
	touch $(STAMP)

# pip check must report nothing but the two known, deliberate departures from Rasa's metadata.
check-env:
	@$(BIN)/pip check 2>&1 | grep -v -E "^rasa 3\.6\.21 has requirement (matplotlib|twilio)" \
	  | grep -v "^No broken requirements" | grep . && { echo "pip check failed"; exit 1; } || true
	@$(BIN)/python -W ignore -c "import os, sys, rasa, rasa_sdk, vosk, kiwipiepy, twilio, ctranslate2, tokenizers; from rasa.core.agent import Agent; print('environment ok: rasa', rasa.__version__, 'twilio', twilio.__version__); sys.stdout.flush(); os._exit(0)" 2>/dev/null

data: install
	$(BIN)/callbot --config $(CONFIG) data build

train: install
	$(BIN)/callbot --config $(CONFIG) train

serve: install
	$(BIN)/callbot --config $(CONFIG) serve $(if $(TWILIO_AUTH_TOKEN),,--insecure-dev)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# The console screenshots in docs/img/ are taken by its browser tests; an ordinary test run keeps them
# in a temporary folder, this target writes them into the docs.
screenshots: install test-deps
	CALLBOT_SCREENSHOTS=$(CURDIR)/docs/img $(BIN)/python -m pytest -q tests/console/test_console_browser.py tests/console/test_console_models.py

lock:
	rm -rf /tmp/callbot-lock && $(PYTHON) -m venv /tmp/callbot-lock
	/tmp/callbot-lock/bin/pip install -q -r requirements/base.in
	(echo "# Resolved from requirements/base.in on Python 3.11 (make lock). Rasa itself: requirements/rasa.txt"; \
	 /tmp/callbot-lock/bin/pip freeze --all --exclude pip) > requirements/lock.txt

clean:
	rm -rf build models var .pytest_cache

# Set-up is part of every entry point: the environment is (re)built from the lock
# file when it is missing or stale, the ARM emulation cache when it is missing, the Cortex-M toolchain.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.lock-sha256
LOCK_SHA := $(shell sha256sum requirements.lock | cut -d' ' -f1)

.PHONY: setup env arm mcu plots apps browser repro test check bench clean-env

setup: env arm mcu plots browser apps

env:
	@if [ ! -x $(VENV)/bin/python ] || [ "$$(cat $(STAMP) 2>/dev/null)" != "$(LOCK_SHA)" ]; then \
		echo "env: creating $(VENV) from requirements.lock"; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && \
		$(VENV)/bin/pip install --quiet --upgrade pip && \
		$(VENV)/bin/pip install --quiet --no-deps -r requirements.lock && \
		$(VENV)/bin/pip check && \
		echo "$(LOCK_SHA)" > $(STAMP); \
	else echo "env: $(VENV) is up to date"; fi

arm:
	@bash scripts/provision_arm.sh

mcu:  # the Cortex-M targets: Debian's qemu-system-arm, Arm GCC and picolibc
	@bash scripts/provision_mcu.sh

plots:  # the offline page template of `dvc plots show` (vega from npm, inlined)
	@command -v npm >/dev/null || { echo "plots: installing Debian's npm"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null; }; }
	@$(VENV)/bin/python scripts/plots_template.py

apps:  # the runtimes apps bundle (onnxruntime-node and -web, the TFLite C library) from npm, for the app targets
	@bash scripts/provision_apps.sh

browser:  # Debian's chromium, for the test that opens the HTML report headless
	@bash scripts/install_browser.sh

# Stages run `python -m pipeline ...`: the environment's bin goes first on PATH.
repro: setup  # dvc.yaml must be what pipeline/wiring.py writes (python -m pipeline wire)
	$(VENV)/bin/python -m pipeline wire --check
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro
	$(VENV)/bin/python -m pipeline wire --prune-lock  # a removed target's stages leave dvc.lock

test: setup
	@bash scripts/run_tests.sh

check: setup  # the quick loop: unit tests and one small integration (pyproject.toml's markers)
	@bash scripts/run_tests.sh -m "not e2e or smoke"

bench: setup  # the figures the README quotes (the no-op one needs an up-to-date workspace: make repro)
	$(VENV)/bin/python benchmarks/bench_mfcc.py --skip-graphs --runs 5 --clips 600
	$(VENV)/bin/python benchmarks/bench_noop_repro.py --runs 10

clean-env:
	rm -rf $(VENV) .cache/arm

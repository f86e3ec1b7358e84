# Every target creates the virtual environment on first use (idempotent: re-run only when
# pyproject.toml or requirements.lock changes). torch comes from pip (this machine's disk index) and
# never from uv; everything else comes from requirements.lock (every package pinned, with hashes).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# checkov (IaC scanner) has pins that clash with the app's: its own venv, rebuilt when the pin changes.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# Not in the lock: see docs/design.md "Dependencies" (multi-GB CUDA wheels on this machine's disk index).
TORCH := torch==2.14.1 torchvision==0.29.1
# Reference implementations for the differential tests whose pins clash with the app's (samtranslator
# pins an older pydantic; sagemaker-training pulls gevent, scipy, paramiko): their own venv.
REF_PKGS := aws-sam-translator==1.115.0 sagemaker-training==5.1.4
REF_VENV := .venv-ref
REF_STAMP := $(REF_VENV)/.installed-$(subst ==,-,$(subst $() ,_,$(REF_PKGS)))
# sam build needs a python3.12 next to the 3.11 we develop on (pyenv machines).
export PYENV_VERSION ?= 3.11.7:3.12.1

# `make demo` variables: ONCE=1 exits after the first prediction; STATE_DIR, DATA, EDGE_PORT and
# API_PORT are passed to `pipeline-demo run` when set (defaults: .localcloud, a generated sample
# dataset, 4566, 3000).
STATE_DIR ?=
DATA ?=
EDGE_PORT ?=
API_PORT ?=
ONCE ?=
LOCALCLOUD_ARGS = $(if $(STATE_DIR),--state-dir $(STATE_DIR)) $(if $(EDGE_PORT),--port $(EDGE_PORT)) \
	$(if $(API_PORT),--api-port $(API_PORT))
SDK_VENV := .venv-sdk
SDK3_VENV := .venv-sdk3

.PHONY: help setup lock tools reference-venv sdk test test-fast lint format bench demo deploy deploy-guided clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | \
		awk -F'\t' '{ printf "  make %-14s %s\n", $$1, $$2 }'
	@echo "  make demo variables: ONCE=1  STATE_DIR=dir  DATA=imagefolder  EDGE_PORT=4566  API_PORT=3000"

setup: $(STAMP) ## create .venv (torch, then requirements.lock); re-run when pyproject.toml or the lock changes

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# uv keeps the lock's versions unless pyproject.toml's ranges exclude them (--upgrade-package NAME to
# move one); the layer's and training's requirements files are then regenerated from the lock.
lock: setup ## re-lock pyproject.toml's dependencies into requirements.lock (uv) and regenerate its exports
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" --quiet -o $(LOCK) $(UV_ARGS)
	$(PY) scripts/export_requirements.py

# AWS tooling that must not share the app's pins: SAM CLI (with cfn-lint), checkov, asl-validator.
tools: $(SAM) $(CHECKOV_STAMP) node_modules/.installed ## SAM CLI (+ cfn-lint) in .venv-sam, checkov in .venv-checkov, asl-validator

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==$(CHECKOV_VERSION)
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

reference-venv: $(REF_STAMP) ## samtranslator + sagemaker-training in .venv-ref (differential tests)

$(REF_STAMP):
	rm -rf $(REF_VENV)
	$(PYTHON) -m venv $(REF_VENV)
	$(REF_VENV)/bin/pip install -q $(REF_PKGS)
	touch $@

# The SageMaker Python SDKs (2.x and 3.x), each in its own venv so their pins never touch the app's.
sdk: $(SDK_VENV)/.installed $(SDK3_VENV)/.installed ## the SageMaker Python SDK 2.x (.venv-sdk) and 3.x (.venv-sdk3)

$(SDK_VENV)/.installed: examples/requirements-sdk.txt examples/constraints-sdk.txt
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install -q -r examples/requirements-sdk.txt -c examples/constraints-sdk.txt
	touch $@

$(SDK3_VENV)/.installed: examples/requirements-sdk3.txt examples/constraints-sdk3.txt
	test -x $(SDK3_VENV)/bin/python || $(PYTHON) -m venv $(SDK3_VENV)
	$(SDK3_VENV)/bin/pip install -q -r examples/requirements-sdk3.txt -c examples/constraints-sdk3.txt
	touch $@

# `make test` runs the files on TEST_WORKERS pytest-xdist workers (0: in this process, in order);
# the heaviest files go first (tests/conftest.py). 2 workers on CI's 2 cores: ~11 min instead of ~20.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test: setup tools reference-venv sdk ## every test: unit, integration, end-to-end (PYTEST_ARGS=... to select)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: setup ## unit tests only
	$(PY) -m pytest -m "not slow and not e2e" $(PYTEST_ARGS)

lint: setup ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy training functions localcloud pipeline_demo

format: setup ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## benchmarks: each prints its figures and ratios
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

demo: setup ## the whole pipeline on this machine (ONCE=1 STATE_DIR= DATA= EDGE_PORT= API_PORT=)
	$(VENV)/bin/python -m pipeline_demo run $(LOCALCLOUD_ARGS) $(if $(DATA),--data $(DATA)) $(if $(ONCE),--once)

deploy: tools ## sam build + sam deploy with the settings saved in samconfig.toml
	$(SAM) build && $(SAM) deploy

deploy-guided: tools ## sam build + sam deploy --guided (asks, then saves the answers in samconfig.toml)
	$(SAM) build && $(SAM) deploy --guided

clean: ## stop a localcloud running on the state dir, then delete it and .aws-sam
	if [ -x $(VENV)/bin/localcloud ] && [ -f $(or $(STATE_DIR),.localcloud)/localcloud.pid ]; then \
		$(VENV)/bin/localcloud stop --state-dir $(or $(STATE_DIR),.localcloud); fi
	rm -rf $(or $(STATE_DIR),.localcloud) .aws-sam

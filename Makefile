# Every target creates the virtual environment on first use (idempotent: re-run only when
# pyproject.toml changes). torch comes from pip (this machine's disk cache) and never from uv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
TORCH := torch==2.14.1 torchvision==0.29.1
# sam build needs a python3.12 next to the 3.11 we develop on (pyenv machines).
export PYENV_VERSION ?= 3.11.7:3.12.1

SDK_VENV := .venv-sdk
SDK3_VENV := .venv-sdk3

.PHONY: setup tools sdk test test-fast lint format bench demo deploy clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# AWS tooling that must not share the app's pins: SAM CLI (with cfn-lint) and asl-validator.
tools: $(SAM) node_modules/.installed

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The SageMaker Python SDKs (2.x and 3.x), each in its own venv so their pins never touch the app's.
sdk: $(SDK_VENV)/.installed $(SDK3_VENV)/.installed

$(SDK_VENV)/.installed: examples/requirements-sdk.txt examples/constraints-sdk.txt
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install -q -r examples/requirements-sdk.txt -c examples/constraints-sdk.txt
	touch $@

$(SDK3_VENV)/.installed: examples/requirements-sdk3.txt examples/constraints-sdk3.txt
	test -x $(SDK3_VENV)/bin/python || $(PYTHON) -m venv $(SDK3_VENV)
	$(SDK3_VENV)/bin/pip install -q -r examples/requirements-sdk3.txt -c examples/constraints-sdk3.txt
	touch $@

test: setup tools sdk
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow and not e2e" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy training functions localcloud

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

demo: setup
	$(VENV)/bin/localcloud demo $(if $(DATA),--data $(DATA))

deploy: tools
	$(SAM) build && $(SAM) deploy --guided

clean:
	rm -rf .localcloud .aws-sam

# Kubernetes Workloads Lab
#   make lab    set everything up, start the sandbox (unless minikube runs), open JupyterLab
#   make test   set everything up, run the whole test suite
# Both are safe to run again: the virtualenv, the package and the sandbox binaries are reused.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
LABKIT := $(BIN)/labkit
STAMP := $(VENV)/.labkit-installed
NOTEBOOKS := notebooks
JUPYTER_ARGS ?=
PYTEST_ARGS ?=

# The venv first (kubectl, jupyter, labkit for `!` cells), then Go's usual install folder.
export PATH := $(abspath $(BIN)):$(PATH):/usr/local/go/bin

# The first python3 that is 3.11 or newer.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)

ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

define GO_HELP
The sandbox binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
are built once from Go modules (about 10 minutes on 2 cores), and that needs Go >= 1.26.
Install it from https://go.dev/doc/install, or with conda: conda install -c conda-forge 'go>=1.26'
(Debian/Ubuntu's golang package is too old), then run make again.
endef
export GO_HELP

.PHONY: help setup binaries check-go sandbox lab test clean

help:
	@echo "make lab    set up and open the course in JupyterLab (sandbox started unless minikube runs)"
	@echo "make test   set up and run the full test suite"
	@echo "make clean  stop the sandbox, remove the virtualenv and test output (build cache kept)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: Python 3.11 or newer is needed; install it (or use conda: environment.yml)" >&2; exit 1; fi
	@if ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
		echo "==> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv --clear $(VENV); fi
	@echo "==> installing labkit and its pinned dependencies into $(VENV)"
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[test]'
	@touch $@

check-go:
	@command -v go >/dev/null 2>&1 || { echo "error: Go not found." >&2; echo "$$GO_HELP" >&2; exit 1; }
	@go version | awk '{v=$$3; sub(/^go/, "", v); split(v, a, "."); exit !(a[1] > 1 || a[2] >= 26)}' \
		|| { echo "error: $$(go version) is too old." >&2; echo "$$GO_HELP" >&2; exit 1; }

binaries: $(STAMP)
	@echo "==> sandbox binaries"
	@$(BIN)/python -c 'import sys; from labkit.sandbox import binaries as b; sys.exit(not all(b.find_all().values()))' \
		|| $(MAKE) --no-print-directory check-go
	$(LABKIT) build --if-missing

sandbox: binaries
	@if command -v minikube >/dev/null 2>&1 && minikube status >/dev/null 2>&1; then \
		echo "==> minikube is running: the course will use it (labkit.connect picks it)"; \
	else echo "==> sandbox: labkit up --nodes 2 (lesson 03 fails a node)"; $(LABKIT) up --nodes 2; fi

lab: sandbox
	@echo "==> JupyterLab (stop it with Ctrl-C; stop the sandbox with: $(LABKIT) down)"
	@# Its terminals inherit JupyterLab's environment: point them at the sandbox when it runs.
	@kc=$$($(LABKIT) status --kubeconfig); \
	if [ -n "$$kc" ]; then export KUBECONFIG="$$kc"; echo "==> JupyterLab terminals: KUBECONFIG=$$kc"; fi; \
	set -x; exec $(BIN)/jupyter lab --ServerApp.root_dir=$(NOTEBOOKS) $(ALLOW_ROOT) $(JUPYTER_ARGS)

test: binaries
	@echo "==> tests"
	$(BIN)/pytest tests/ $(PYTEST_ARGS)

clean:
	@if [ -x $(LABKIT) ]; then $(LABKIT) down; fi
	rm -rf $(VENV) test-output $(NOTEBOOKS)/_executed .pytest_cache *.egg-info build dist
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	@echo "kept: sandbox state (remove with 'labkit down --purge') and the binary cache ~/.cache/labkit"

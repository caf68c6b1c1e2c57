# One entry point for people and CI. Every target installs what is missing first (tools/setup.sh:
# a few tenths of a second when everything is already installed).
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
PY := $(ROOT)/.venv/bin/python
export SOLCX_BINARY_PATH := $(ROOT)/.cache/solcx
export PATH := $(ROOT)/.venv/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
# Flower's anonymous usage events: off
export FLWR_TELEMETRY_ENABLED ?= 0

# Extra arguments: make demo ARGS="--rounds 3"   make test ARGS="-k merkle"
ARGS ?=
# Test processes (pytest-xdist; each has its own Anvil). A test file runs whole in one process, so
# a module's federation is set up once. Default 2 (this machine's cores); 0: one process.
TEST_WORKERS ?= 2
TEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

.PHONY: help setup demo test test-slow lint analyze compile deploy console bench bench-gas bench-fl \
        bench-scoring bench-market lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

setup: ## install the pinned Python and npm dependencies into .venv and node_modules
	@bash tools/setup.sh

demo: setup ## the main job: a whole federation on an embedded Anvil, ending in a report
	@$(ROOT)/.venv/bin/fl-node demo $(ARGS)

# The contracts are compiled before the test processes start: each loads the build at its start.
test: setup ## run every test (contracts on Anvil, Python units, end-to-end federations)
	@$(PY) -m fl_node.toolchain.build
	@$(PY) -m pytest $(TEST_PARALLEL) $(ARGS)

test-slow: setup ## the tests plus long invariant campaigns and large federations
	@$(PY) -m fl_node.toolchain.build
	@$(PY) -m pytest $(TEST_PARALLEL) --run-slow $(ARGS)

lint: setup ## ruff and mypy over the Python package and tests
	@$(ROOT)/.venv/bin/ruff check fl_node tests scripts
	@$(ROOT)/.venv/bin/ruff format --check fl_node tests scripts
	@$(ROOT)/.venv/bin/mypy

analyze: setup ## Slither over contracts/ (offline): results/slither.json, slither.md; triage in slither-triage.md
	@$(PY) tools/analyze.py --slither $(ROOT)/.venv/bin/slither $(ARGS)

compile: setup ## compile the contracts into build/
	@$(ROOT)/.venv/bin/brownie compile $(ARGS)

# make deploy NETWORK=fl-sepolia (networks: brownie networks list; settings: python
# scripts/deploy.py --help) or RPC=http://127.0.0.1:8546 (a chain already running here).
deploy: setup ## deploy the suite with Brownie (NETWORK=<id> or RPC=<url>; default: anvil)
	@$(PY) -m fl_node.toolchain.brownie_cli $(if $(RPC),--rpc $(RPC)) run scripts/deploy.py \
		$(if $(or $(RPC),$(findstring --network,$(ARGS))),,--network $(or $(NETWORK),anvil)) $(ARGS)

# make console: Brownie's anvil network (port 8545 of brownie-config.yaml; a fresh Anvil unless one
# runs there). RPC=http://127.0.0.1:8546: a chain already running. NETWORK=fl-sepolia: a public one.
console: setup ## Brownie console with the deployed suite attached (Federation[-1]); RPC=, NETWORK=
	@$(PY) -m fl_node.toolchain.brownie_cli $(if $(RPC),--rpc $(RPC)) console \
		$(if $(NETWORK),--network $(NETWORK)) $(ARGS)

bench: bench-gas bench-fl bench-scoring ## every benchmark; figures go to results/ and the README

bench-gas: setup ## gas of every call, and per round at 10/100/500 clients
	@$(ROOT)/.venv/bin/fl-node bench gas $(ARGS)

bench-fl: setup ## accuracy of FedAvg and robust aggregators vs centralized, chain share of time
	@$(ROOT)/.venv/bin/fl-node bench fl $(ARGS)

bench-scoring: setup ## contribution methods vs exact Shapley: rank correlation and cost
	@$(ROOT)/.venv/bin/fl-node bench scoring $(ARGS)

bench-market: setup ## client tokens as investment vehicles: 20-round market experiment (~11 min)
	@$(ROOT)/.venv/bin/fl-node simulate --measure --modes buyback,dividend,direct $(ARGS)

lock: ## re-resolve requirements.in into requirements.lock (Brownie's pins as constraints)
	@bash tools/lock.sh

clean: ## remove everything the set-up installed and built
	rm -rf .venv node_modules .cache build .pytest_cache .hypothesis .mypy_cache .ruff_cache

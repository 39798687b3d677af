# qroute: every target sets itself up on a fresh Debian machine and is safe to re-run.
#   make demo     live rerouting demo in Mininet (root)
#   make test     lint, then the whole test suite (root for the Mininet tier)
#   make test-fast   pure-logic and controller tests only (no root, no Mininet)
#   make lint     ruff over the whole tree (its rules are in pyproject.toml)
#   make test-mininet  the Mininet tier alone (root)
#   make install  set-up only: apt packages, .venv, pinned Python packages, the dashboard's JavaScript
#   make demo-live  Abilene (TOPO=geant) with the dashboard and looping traffic until Ctrl-C (root)
#   make bench    scale, speed, failover and live benchmarks (see BENCHMARKS.md), results under bench-out/
#   make reliability  faults and hostile input in Mininet, each check with its pass rule (root; RELIABILITY.md)
#   make clean    remove the virtual environment and build leftovers
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
# Debian's interpreter: the Debian mininet package imports only there.
BASE_PYTHON ?= /usr/bin/python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --no-input
PIP_VERSION := 26.3
# A user with a GPU opts into a CUDA torch here, e.g. TORCH_PIP_ARGS="--index-url <CUDA wheel index>".
TORCH_PIP_ARGS ?=
APT_PACKAGES := mininet openvswitch-switch iperf3 iputils-ping ethtool iproute2 python3-venv procps etcd-server chromium chromium-driver
SITE := $(VENV)/lib/python3.11/site-packages
STAMP := $(VENV)/.qroute-installed
# The dashboard's libraries, from the npm registry by package-lock.json, copied where the
# controller serves them (controller/ui/vendor/, not in git): the page needs no internet.
UI_VENDOR := controller/ui/vendor
UI_STAMP := $(UI_VENDOR)/.installed
UI_FILES := cytoscape/dist/cytoscape.min.js uplot/dist/uPlot.iife.min.js uplot/dist/uPlot.min.css
TOPO ?= abilene
PYTEST_ARGS ?=
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help install apt demo demo-live lint test test-fast test-mininet bench reliability clean ovs-start mininet-clean

help:
	@sed -n '2,11p' Makefile

install: $(STAMP) $(UI_STAMP)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "qroute: installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): requirements.txt constraints.txt build-constraints.txt setup.cfg pyproject.toml | apt
	@# A venv without pip is what an interrupted `python -m venv` leaves: start it again.
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); $(BASE_PYTHON) -m venv $(VENV); }
	$(PIP) install -q pip==$(PIP_VERSION)
	$(PIP) install -q -c constraints.txt $(TORCH_PIP_ARGS) torch==2.13.0
	$(PIP) install -q -c constraints.txt --build-constraint build-constraints.txt -r requirements.txt
	$(PIP) install -q -c constraints.txt --no-deps torchquantum-ng==0.2.0 torchpack==0.3.1
	$(PIP) install -q --no-deps --build-constraint build-constraints.txt -e .
	@# torchquantum imports its MNIST/CIFAR loaders, which need torchvision; see qroute_tq_compat.py.
	echo "import qroute_tq_compat" > $(SITE)/qroute_tq_compat.pth
	@# Make Debian's mininet package (and only it) importable from the venv.
	mkdir -p $(VENV)/debian-mininet && ln -sfn /usr/lib/python3/dist-packages/mininet $(VENV)/debian-mininet/mininet
	echo "$(abspath $(VENV))/debian-mininet" > $(SITE)/debian-mininet.pth
	@# Ryu 4.34's own ryu-manager does not start on Python 3.11; ours patches eventlet first.
	printf '#!%s\nimport sys\nfrom controller.launcher import main\nsys.exit(main())\n' "$(abspath $(PY))" > $(VENV)/bin/ryu-manager
	chmod +x $(VENV)/bin/ryu-manager
	$(PY) -c "import torchquantum, ryu, mininet.net, qnn, topologies" 
	@! $(PIP) list 2>/dev/null | grep -i -E '^(tensorflow|pyscf|torchvision|nvidia-)' || { echo "qroute: unwanted package in $(VENV)"; exit 1; }
	@echo "qroute: environment ready in $(VENV) ($$(du -sh $(VENV) | cut -f1))"
	touch $(STAMP)

$(UI_STAMP): package.json package-lock.json | apt
	@command -v npm >/dev/null 2>&1 || { echo "qroute: installing Debian packages: nodejs npm"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends nodejs npm; }
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(UI_VENDOR) && mkdir -p $(UI_VENDOR)
	for f in $(UI_FILES); do cp node_modules/$$f $(UI_VENDOR)/; done
	cp node_modules/cytoscape/LICENSE $(UI_VENDOR)/cytoscape-LICENSE.txt
	cp node_modules/uplot/LICENSE $(UI_VENDOR)/uplot-LICENSE.txt
	touch $(UI_STAMP)

ovs-start: apt
	@./scripts/ovs-start

mininet-clean: apt
	@mn -c >/dev/null 2>&1 || true

demo: install ovs-start
	@$(MAKE) -s mininet-clean
	status=0; $(PY) -m qnn.cli lab demo || status=$$?; $(MAKE) -s mininet-clean; exit $$status

# Runs until Ctrl-C; the tool cleans up what it started, mininet-clean is the second net.
demo-live: install ovs-start
	@$(MAKE) -s mininet-clean
	status=0; $(PY) -m qnn.cli lab demo-live --topology $(TOPO) || status=$$?; $(MAKE) -s mininet-clean; exit $$status

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	@./scripts/run-tests $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not mininet" $(PYTEST_ARGS)

test-mininet: install
	@if [ "$$(id -u)" != 0 ]; then echo "test-mininet: the Mininet tier needs root" >&2; exit 2; fi
	@./scripts/run-tests -m mininet $(PYTEST_ARGS)

bench: install
	mkdir -p bench-out
	$(PY) -m qnn.cli scale --out bench-out
	$(PY) -m qnn.cli speed --threads 2 | tee bench-out/qnn-speed.txt
	@if [ "$$(id -u)" = 0 ]; then \
	  ./scripts/ovs-start && $(PY) -m qnn.cli lab failover --trials 5 --seed 1 \
	    --json bench-out/failover-abilene.json \
	  && for topology in abilene:1512:5 geant:300:4; do set -- $$(echo $$topology | tr : ' '); \
	    $(PY) -m qnn.cli lab replay --topology $$1 --policies spf,qnn,qnn-split,mlp-split,lp \
	      --matrices $$2:$$3 --seconds-per-matrix 10 --json bench-out/replay-$$1.json \
	      --plot bench-out/replay-$$1.png | tee bench-out/replay-$$1.md || exit 1; done \
	  && $(PY) -m qnn.cli lab replay --topology abilene --policies spf,qnn,qnn-split --matrices 1512:3 \
	    --seconds-per-matrix 10 --overload 1.3 --json bench-out/replay-abilene-heavy.json \
	    --plot bench-out/replay-abilene-heavy.png | tee bench-out/replay-abilene-heavy.md; \
	  status=$$?; mn -c >/dev/null 2>&1; exit $$status; \
	else echo "bench: skipping the Mininet benchmarks (need root)"; fi

reliability: install ovs-start
	@$(MAKE) -s mininet-clean
	mkdir -p bench-out
	status=0; $(PY) -m qnn.cli lab reliability --json bench-out/reliability.json \
	  --markdown bench-out/reliability.md || status=$$?; $(MAKE) -s mininet-clean; exit $$status

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis bench-out node_modules $(UI_VENDOR)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# One command sets up and runs everything: `make test`.
# `make demo` sets up and runs the main job (the embedded demo).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup system test lint unit demo bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# Real components the integration tests need (Prometheus, etcd + kube control plane, helm).
system:
	bash scripts/setup.sh

lint: setup
	$(VENV)/bin/ruff check wva_ray tests benchmarks
	$(VENV)/bin/ruff format --check wva_ray tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: setup
	$(VENV)/bin/pytest -q tests -m "not integration and not e2e"

# The simulator smoke run goes first so that pytest's summary is the last line CI prints.
test: setup system lint
	$(VENV)/bin/wva-ray bench --quick --output out/bench-quick
	$(VENV)/bin/pytest tests

demo: setup
	$(VENV)/bin/wva-ray demo

bench-quick: setup
	$(VENV)/bin/wva-ray bench --quick --output benchmarks/results/quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
DEVSTAMP:= $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(VPY):
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e ".[demo]"
	touch $@

$(DEVSTAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q -e ".[dev,demo]"
	touch $@

demo: $(STAMP)
	$(VPY) -m glassgrad demo

test: $(DEVSTAMP)
	$(VPY) -m ruff check .
	$(VPY) -m pytest -n 2 -q

lint: $(DEVSTAMP)
	$(VPY) -m ruff check .

bench: $(DEVSTAMP)
	$(VPY) bench/bench_core.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

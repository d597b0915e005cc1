# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
DEVSTAMP:= $(VENV)/.installed-dev

.PHONY: demo test docs lint bench clean

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

# the docs site, in strict mode (a broken link or a failing tutorial cell fails it)
docs: $(DEVSTAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
	@echo "docs: open $(CURDIR)/site/index.html"

lint: $(DEVSTAMP)
	$(VPY) -m ruff check .

bench: $(DEVSTAMP)
	$(VPY) bench/bench_core.py

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache

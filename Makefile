# Local development shortcuts. CI runs .ci/run directly.
VENV ?= .venv
PYTHON ?= python3

.PHONY: test demo venv

# the same as CI: fresh venv, ruff, mypy, the whole test suite (tests start their own broker)
test:
	bash .ci/run

$(VENV)/.installed: pyproject.toml
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# TODO: `motcua-hub demo` (broker, topics, worker, simulated feed, web page) replaces the
# three steps below once it exists. Stop the broker afterwards with `motcua-hub broker stop`.
demo: venv
	$(VENV)/bin/motcua-hub broker start
	$(VENV)/bin/motcua-hub topics create
	$(VENV)/bin/motcua-hub worker

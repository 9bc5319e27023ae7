# Local development shortcuts. CI runs .ci/run directly.
VENV ?= .venv
PYTHON ?= python3

.PHONY: test demo venv compile system-deps

# the same as CI, in a clone of HEAD in a temp dir with your uncommitted changes laid over it:
# fresh venv, ruff, mypy, the whole test suite (tests start their own broker)
test:
	bash .ci/run

$(VENV)/.installed: pyproject.toml
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# the hot modules compiled with mypyc (hub/native.py; needs a C compiler); a no-op when current.
# Without it the hub runs its Python sources, slower, with the same results.
compile: venv
	$(VENV)/bin/motcua-hub compile || echo "not compiled: the hub runs its Python sources" >&2

# The one-command local run for a newcomer: Java 17 and Maven (Debian packages, installed when
# missing), the virtualenv, then `motcua-hub demo`: the local broker (its jars fetched once with
# Maven), the topics, a worker, a simulated province and the web page. Ctrl-C stops everything.
# Options through DEMO_ARGS, e.g. `make demo DEMO_ARGS="--speed 3600 --dossiers 5000"`.
DEMO_ARGS ?=
demo: system-deps venv compile
	$(VENV)/bin/motcua-hub demo $(DEMO_ARGS)

system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
		command -v apt-get >/dev/null 2>&1 || { echo "please install:$$missing" >&2; exit 1; }; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "installing$$missing"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

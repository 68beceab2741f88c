# The two commands of the README: `make run` and `make test`. Both create .venv when it is
# missing and bring it up to date with requirements.lock (pip only; the lock pins torch to the
# CPU wheel these machines carry).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test lint venv lock bench clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=68"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	@echo "Workspace: http://$(HOST):$(PORT)  (workbooks: $(VENV)/bin/marimo edit workbooks/research.py)"
	$(VENV)/bin/streamlit run apps/workspace.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench_data.py

# Regenerate the lock from the current environment after changing dependencies.
lock: $(STAMP)
	@{ echo "# Exact versions installed by \`make\` (generated with pip freeze; regenerate with \`make lock\`)."; \
	  echo "# torch is pinned to 2.13.0: these machines carry a CPU wheel of exactly that version, so pip"; \
	  echo "# installs it from disk; any other version downloads a multi-GB CUDA build."; \
	  $(PY) -m pip freeze --exclude-editable | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/' | sort -f; } > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

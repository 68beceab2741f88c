# The two commands of the README: `make run` and `make test`. Both create .venv when it is
# missing and bring it up to date with requirements.lock (pip only; the lock pins torch to the
# CPU wheel these machines carry).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8501
# Debian's Chromium for the browser end-to-end tests (Playwright drives it through
# executable_path; browser downloads are never used).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-portable lint venv browser lock bench clean docs docs-serve

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=68"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "The browser tests need Debian's chromium at $(CHROMIUM); install it with your package manager." >&2; exit 1; }
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
		|| { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

browser: $(CHROMIUM)

run: $(STAMP)
	@echo "Workspace: http://$(HOST):$(PORT)  (workbooks: $(VENV)/bin/marimo edit workbooks/research.py)"
	$(VENV)/bin/streamlit run apps/workspace.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

# The numeric tests again with numpy's runtime SIMD dispatch switched off (every group this numpy
# reports in __cpu_dispatch__ on this machine, e.g. X86_V3 X86_V4 AVX512_ICL AVX512_SPR with numpy
# 2.4) and numba compiling for a generic CPU: a test that only passes with this machine's kernels
# fails here, not on a user's machine. tests/conftest.py checks that both really took effect.
NUMERIC_TESTS := tests/analytics tests/backtest tests/data tests/models tests/properties tests/risk \
	tests/smc tests/strategy tests/stress tests/zones tests/test_indicators.py tests/test_kernels.py
# Left out of the second pass (they ran in the first): torch training and process-pool runs,
# whose numbers come from torch's kernels or repeat the single-process path in other processes.
PORTABLE_SKIP := \
	--deselect tests/backtest/test_ai_filter.py::test_filter_comparison_charges_every_variant_and_only_removes_trades \
	--deselect tests/backtest/test_sweep.py::test_processes_and_a_local_cluster_give_the_same_table \
	--deselect tests/backtest/test_sweep.py::test_quant_dask_scheduler_address_is_used_by_default \
	--deselect tests/models/ml/test_train.py::test_sequence_models_beat_both_baselines_by_five_points_on_a_planted_signal \
	--deselect tests/models/ml/test_train.py::test_sequence_models_find_nothing_in_a_random_walk \
	--deselect tests/models/ml/test_walkforward.py::test_folds_in_processes_give_the_same_predictions \
	--deselect tests/strategy/test_ai_confirmed.py::test_ai_confirmed_signals_are_truncation_invariant
test-portable: $(STAMP)
	NPY_DISABLE_CPU_FEATURES="$$($(PY) -c 'from numpy._core._multiarray_umath import __cpu_dispatch__ as d; print(" ".join(d))')" \
	NUMBA_CPU_NAME=generic QUANT_NARROWED_CPU=1 $(PY) -m pytest -p no:cacheprovider $(NUMERIC_TESTS) \
	$(PORTABLE_SKIP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/bench_data.py

# The documentation site (mkdocs.yml): built strict (a warning fails it) and offline into site/;
# docs-serve rebuilds on every save and serves it on $(HOST) only.
DOCS_PORT ?= 8000
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr $(HOST):$(DOCS_PORT)

# Regenerate the lock from the current environment after changing dependencies.
lock: $(STAMP)
	@{ echo "# Exact versions installed by \`make\` (generated with pip freeze; regenerate with \`make lock\`)."; \
	  echo "# torch is pinned to 2.13.0: these machines carry a CPU wheel of exactly that version, so pip"; \
	  echo "# installs it from disk; any other version downloads a multi-GB CUDA build."; \
	  $(PY) -m pip freeze --exclude-editable | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/' | sort -f; } > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

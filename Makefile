# Every target creates or reuses .venv and installs the package (with the
# test extra) from setup.cfg; nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint format bench wheel clean clean-cache

install: $(STAMP)

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m experiments.concat

test: $(STAMP)
	$(PY) -m pytest -x -q -n 2 --dist loadfile --no-loadscope-reorder

# Unit tests that build no corpus and train nothing (the tier to run while working).
test-fast: $(STAMP)
	$(PY) -m pytest -x -q -m "not slow"

# ruff (settings in pyproject.toml): errors, pyflakes, import order, 100 columns.
lint: $(STAMP)
	$(PY) -m ruff check .

# Sorts imports and applies ruff's safe fixes; the code keeps its hand-wrapped style.
format: $(STAMP)
	$(PY) -m ruff check --fix --select I,F401 .

bench: $(STAMP)
	$(PY) -m benchmarks.run_all --out benchmarks/results.json

# A wheel to install elsewhere (Colab: put it in Google Drive beside the notebook).
wheel: $(STAMP)
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf $(VENV) runs build dist *.egg-info

# The demo corpus and backbones (about 700 MB), built on first use; not removed by clean.
clean-cache:
	rm -rf $${MER_TF_HOME:-$$HOME/.cache/mer_tf}

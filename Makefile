# Every target creates or reuses .venv and installs the package (with the
# test extra) from setup.cfg; nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint format bench docs wheel clean clean-cache

install: $(STAMP)

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# -qq: errors only; setuptools' editable build otherwise warns on every install that a
	# folder named like the package may shadow it, which in a checkout is the point.
	$(PY) -m pip install -qq -e '.[test]'
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

# The docs site (docs/, mkdocs.yml) in site/, with --strict as CI builds it: a broken link,
# a page missing from the nav or a docstring griffe cannot read is an error.
DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -qq -e '.[test,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

# A wheel to install elsewhere (Colab: put it in Google Drive beside the notebook).
wheel: $(STAMP)
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf $(VENV) runs build dist site *.egg-info

# The demo corpus and backbones (about 700 MB), built on first use; not removed by clean.
clean-cache:
	rm -rf $${MER_TF_HOME:-$$HOME/.cache/mer_tf}

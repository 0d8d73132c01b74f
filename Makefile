# Every target creates or reuses .venv and installs the package (with the
# test extra) from setup.cfg; nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

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

bench: $(STAMP)
	$(PY) -m benchmarks.run_all --out benchmarks/results.json

clean:
	rm -rf $(VENV) runs build *.egg-info

# darkfigure: verbs only. `make all` and `make test` set everything up from scratch.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
DF    := $(VENV)/bin/darkfigure
CARDS := $(wildcard models/*.toml)
RUNS  := $(patsubst models/%.toml,results/%.nc,$(CARDS))

.PHONY: help setup all fit figures test validate bench clean

help:  ## list the verbs
	@grep -E '^[a-z]+:.*##' Makefile | sed 's/:.*## /\t/'

$(VENV)/.stamp: pyproject.toml
	@PYBIN=$$(scripts/find-python) || exit 1; \
	echo "setup: creating $(VENV) with $$PYBIN"; \
	rm -rf $(VENV) && "$$PYBIN" -m venv $(VENV) && \
	$(PY) -m pip install --quiet --upgrade pip && \
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(VENV)/.stamp  ## create the virtual environment and install darkfigure

all: setup fit figures  ## set up, fit every run card, make the figures and tables

fit: setup $(RUNS)  ## fit every run card in models/ into results/ (only what changed)

results/%.nc: models/%.toml $(VENV)/.stamp
	@$(DF) fit $< --quiet; status=$$?; \
	if [ $$status -eq 3 ]; then echo "NOTE: $< did not converge or N has no estimate (flagged in the file)"; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

figures: setup fit  ## benchmark figure and comparison table from the posteriors
	@mkdir -p figures
	$(PY) scripts/benchmark_table.py results figures/benchmarks.csv
	$(PY) scripts/benchmark_figure.py results figures/benchmarks_N.png

test: setup  ## the default test suite (fast; CI runs this)
	$(PY) -m pytest

validate: setup  ## slow statistical checks: recovery over many seeds, held-out lists
	$(PY) -m pytest -m slow
	PYTHONPATH=scripts $(PY) scripts/heldout_validation.py results/validation
	$(DF) calibrate --scenarios scenarios/*.toml --models loglinear,bma,latent-class \
	  --replicates 100 --out results/calibration

bench: setup  ## timings and ESS/s per model and table, scaling, conting side by side
	@command -v Rscript >/dev/null || { apt-get update -qq && \
	  apt-get install -y -qq r-base-core r-cran-conting >/dev/null; } || \
	  echo "bench: R/conting not installed; the conting comparison is skipped"
	$(PY) benchmarks/harness.py benchmarks/results.json

clean:  ## remove generated files (keeps the environment)
	rm -rf results figures/*.png figures/*.csv

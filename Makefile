# darkfigure: verbs only. `make all` and `make test` set everything up from scratch.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
DF    := $(VENV)/bin/darkfigure
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
# The paper's DAG lives in the Snakefile; mtime triggers: rerun only what changed (see README).
SNAKE := $(VENV)/bin/snakemake --cores $(JOBS) --rerun-triggers mtime --keep-going
TEXPKGS := latexmk texlive-latex-base texlive-latex-recommended texlive-fonts-recommended lmodern

.PHONY: help setup tex all fit figures paper test validate bench clean

help:  ## list the verbs
	@grep -E '^[a-z]+:.*##' Makefile | sed 's/:.*## /\t/'

$(VENV)/.stamp: pyproject.toml
	@PYBIN=$$(scripts/find-python) || exit 1; \
	echo "setup: creating $(VENV) with $$PYBIN"; \
	rm -rf $(VENV) && "$$PYBIN" -m venv $(VENV) && \
	$(PY) -m pip install --quiet --upgrade pip && \
	$(PY) -m pip install --quiet -e '.[dev,paper]'
	@touch $@

setup: $(VENV)/.stamp  ## create the virtual environment and install darkfigure

# Only the paper needs TeX, so `make test` (CI) does not install it.
tex:  ## install Debian's TeX Live (latexmk) when it is missing
	@command -v latexmk >/dev/null || { echo "setup: installing TeX Live from Debian"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(TEXPKGS) \
	  >/dev/null; } || echo "setup: latexmk missing and apt-get failed; make paper needs it"

all: setup tex  ## set up, fit every run card, figures, tables, paper/paper.pdf (only what changed)
	$(SNAKE) all

fit: setup  ## fit every run card in models/ into results/ (only what changed, in parallel)
	$(SNAKE) fit_all

figures: setup  ## figures and tables of the paper from the posteriors
	$(SNAKE) figures

paper: setup tex  ## paper/paper.pdf (fits and figures first where they changed)
	$(SNAKE) paper/paper.pdf

test: setup  ## the default test suite (fast; CI runs this)
	$(PY) -m pytest

validate: setup  ## slow statistical checks: recovery over many seeds, held-out lists
	$(PY) -m pytest -m slow
	PYTHONPATH=scripts $(PY) scripts/heldout_validation.py results/validation
	$(PY) benchmarks/hierarchical_vs_alone.py results/validation/hierarchical_vs_alone.json
	$(DF) calibrate --scenarios scenarios/*.toml --models loglinear,bma,latent-class,hierarchical \
	  --replicates 100 --out results/calibration

bench: setup  ## timings and ESS/s per model and table, scaling, conting side by side
	@command -v Rscript >/dev/null || { apt-get update -qq && \
	  apt-get install -y -qq r-base-core r-cran-conting >/dev/null; } || \
	  echo "bench: R/conting not installed; the conting comparison is skipped"
	$(PY) benchmarks/harness.py benchmarks/results.json

clean:  ## remove generated files (keeps the environment)
	rm -rf results reports paper/generated paper/paper.pdf figures/*.png figures/*.pdf \
	  figures/*.csv .snakemake

# Two commands do everything on a fresh clone:
#   make book   set up, execute every chapter at this machine's default profile, render _build/html
#   make test   set up, run the unit tests, execute every chapter at `smoke`, render the book from those runs
#
# TORCH_PIN keeps pip on the torch build this machine already has; override it for another platform,
# e.g. `make book TORCH_PIN='torch==2.5.1'`. The package itself only declares lower bounds.

PYTHON ?= python3
TORCH_PIN ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
STAMP := $(VENV)/.installed-stamp
SMOKE := _smoke
JOBS ?= 2
# Chapters run $(JOBS) at a time at `smoke`; one BLAS thread each keeps them from fighting over the cores.
SMOKE_THREADS ?= 1
# Progress bars are for people watching a notebook; in a rendered page they are frozen noise.
export TQDM_DISABLE := 1

.PHONY: book test unit notebooks smoke-book setup clean colab-cells bench

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)" -e ".[book,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mtl_ref)" > /dev/null
	touch $@

book: $(STAMP)
	tools/timed "make book" $(JB) build . --warningiserror --keep-going

test: $(STAMP)
	tools/timed "unit tests" $(PY) -m pytest tests -q -n $(JOBS)
	$(MAKE) --no-print-directory smoke-book

# Stage the book in $(SMOKE)/, execute every chapter there at `smoke` (nbmake writes the outputs back into the
# staged copies), then render the book from those outputs without executing anything a second time.
smoke-book: $(STAMP)
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	cp -r book _config.yml _toc.yml $(SMOKE)/
	ln -s ../mtl_ref $(SMOKE)/mtl_ref
	sed -i 's/^\(  *execute_notebooks *:\).*/\1 "off"/' $(SMOKE)/_config.yml
	MTL_PROFILE=smoke OMP_NUM_THREADS=$(SMOKE_THREADS) tools/timed "chapters at smoke" \
		$(PY) -m pytest $(SMOKE)/book --nbmake --overwrite --nbmake-timeout=600 -n $(JOBS) -q -p no:cacheprovider --durations=0
	tools/timed "render (no execution)" $(JB) build $(SMOKE) --warningiserror --keep-going

colab-cells: $(STAMP)
	$(PY) tools/colab_cell.py --write

# Speed goals: each script prints a table; benchmarks/results/ keeps the tables on record, with how they were made.
bench: $(STAMP)
	$(PY) benchmarks/aggregators.py
	$(PY) benchmarks/step_time.py
	$(PY) benchmarks/synthscenes.py
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf _build $(SMOKE)

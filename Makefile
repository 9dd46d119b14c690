# Two commands do everything on a fresh clone:
#   make book   set up, execute every chapter at this machine's default profile, render _build/html
#   make test   set up, run the unit tests, execute every chapter at `smoke`, render the book from those runs
#   make verify execute every chapter at `quick` with its claims enforced, render strictly (CI runs it after `make test`)
#
# TORCH_PIN keeps pip on the torch build this machine already has; override it for another platform,
# e.g. `make book TORCH_PIN='torch==2.5.1'`. The package itself only declares lower bounds.

PYTHON ?= python3
TORCH_PIN ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2
# Staged builds run $(JOBS) chapters at a time, each with its share of the cores (one thread each on a 2-core machine),
# so that they do not fight over them.
STAGE_THREADS ?= $(shell n=$$(( $$(nproc) / $(JOBS) )); [ $$n -ge 1 ] && echo $$n || echo 1)
# Every executed chapter writes its record (profile, device, wall time, claims with evidence) here; the status page
# renders them.
RECORDS = $(CURDIR)/$(1)/records
# Progress bars are for people watching a notebook; in a rendered page they are frozen noise.
export TQDM_DISABLE := 1

.PHONY: book test verify smoke-book staged-book record-full pages setup clean colab-cells bench

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)" -e ".[book,test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mtl_ref)" > /dev/null
	touch $@

# The reader's build: every chapter at this machine's default profile (`quick` on a CPU, `full` with a GPU, or
# MTL_PROFILE), executed $(JOBS) at a time in _book/ with claims enforced, rendered into _build/html.
book: $(STAMP)
	rm -rf _build
	tools/timed "make book" $(MAKE) --no-print-directory staged-book STAGE=_book PROFILE=$(MTL_PROFILE) \
		CELL_TIMEOUT=7200 HTML_ROOT=.

test: $(STAMP)
	tools/timed "unit tests" $(PY) -m pytest tests -q -n $(JOBS)
	$(MAKE) --no-print-directory smoke-book

smoke-book:
	$(MAKE) --no-print-directory staged-book STAGE=_smoke PROFILE=smoke CELL_TIMEOUT=300

# Every chapter at `quick`, claims enforced: the book must still support its own text.
verify:
	$(MAKE) --no-print-directory staged-book STAGE=_quick PROFILE=quick

# Stage the book in $(STAGE)/, execute every chapter there at $(PROFILE) (empty: the machine's default; nbmake writes
# the outputs back into the staged copies), then render the book from those outputs into $(HTML_ROOT)/_build/html
# without executing anything a second time.
# A cell that runs past CELL_TIMEOUT fails its chapter, and a failed chapter runs once more: a kernel whose last
# message went astray stalls a notebook forever, and the second run tells that apart from a real failure (claims
# use fixed seeds, so a failing claim fails again).
CELL_TIMEOUT ?= 1500
HTML_ROOT ?= $(STAGE)
staged-book: $(STAMP)
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp -r book _config.yml _toc.yml $(STAGE)/
	ln -s ../mtl_ref $(STAGE)/mtl_ref
	sed -i 's/^\(  *execute_notebooks *:\).*/\1 "off"/' $(STAGE)/_config.yml
	$(if $(PROFILE),MTL_PROFILE=$(PROFILE)) MTL_RECORDS_DIR=$(call RECORDS,$(STAGE)) OMP_NUM_THREADS=$(STAGE_THREADS) \
		tools/timed "chapters at $(or $(PROFILE),the default profile)" $(PY) -m pytest $(STAGE)/book --nbmake --overwrite \
		--nbmake-timeout=$(CELL_TIMEOUT) --reruns 1 -n $(JOBS) -q -p no:cacheprovider --durations=0
	MTL_RECORDS_DIR=$(call RECORDS,$(STAGE)) tools/timed "render (no execution)" \
		$(JB) build $(STAGE) --path-output $(HTML_ROOT) --warningiserror --keep-going

# Run chapters at `full` (all of them, or CHAPTERS='book/a.ipynb book/b.ipynb') and keep their records in
# book/records/full/, which the status page lists; a run whose claims fail is recorded too, and the target fails.
CHAPTERS ?= book
record-full: $(STAMP)
	rm -rf _full/records
	MTL_PROFILE=full MTL_RECORDS_DIR=$(call RECORDS,_full) $(PY) -m pytest $(CHAPTERS) --nbmake \
		--nbmake-timeout=7200 -p no:cacheprovider --durations=0; status=$$?; \
		mkdir -p book/records/full; cp _full/records/*.json book/records/full/ 2>/dev/null; exit $$status

# Every rendered page as a reader sees it, in headless Chromium (tools/check_pages.py): no raw MyST text, no
# tracebacks, a figure in every chapter, the claims on the status page. Installs Debian's chromium when missing (root).
PAGES ?= _build/html
pages: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(PY) tools/check_pages.py $(PAGES)

colab-cells: $(STAMP)
	$(PY) tools/colab_cell.py --write

# Speed goals: each script prints a table; benchmarks/results/ keeps the tables on record, with how they were made.
bench: $(STAMP)
	$(PY) benchmarks/aggregators.py
	$(PY) benchmarks/step_time.py
	$(PY) benchmarks/synthscenes.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/experts.py
	$(PY) benchmarks/tag_affinity.py

clean:
	rm -rf _build _book _smoke _quick _full

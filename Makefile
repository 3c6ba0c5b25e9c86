# ragmtl: two commands do everything on a fresh machine.
#   make book   create .venv if missing, install, execute every notebook, build the HTML book
#   make test   unit tests + every notebook re-executed under nbval + book build, warnings as errors
# RAGMTL_DATA is taken from the environment (CI: ../shared/data; a relative path is made absolute);
# without it the data go to ~/.cache/ragmtl/data and are downloaded on a miss.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Embeddings are cached per checkout, so a fresh clone (CI) starts with an empty cache.
# Both folders are made absolute: notebooks run with their own folder (book/) as working directory,
# where a relative path such as RAGMTL_DATA=../shared/data would point elsewhere.
export RAGMTL_CACHE := $(abspath $(or $(RAGMTL_CACHE),$(CURDIR)/.cache/ragmtl))
ifneq ($(strip $(RAGMTL_DATA)),)
export RAGMTL_DATA := $(abspath $(RAGMTL_DATA))
endif
export PYTHONHASHSEED := 0
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# OpenMP threads that spin while they wait collapse when another process holds a core, as on a
# reader's busy laptop (measured in benchmarks/omp_wait_policy.py); the kernels inherit this.
export OMP_WAIT_POLICY := $(or $(OMP_WAIT_POLICY),PASSIVE)

# PyTorch's CPU wheels (pip's default index serves the CUDA build on Linux). Set TORCH_INDEX= (empty)
# to take torch from pip's configured index or find-links instead, e.g. an offline mirror.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

# The book's per-cell time limit, shared by `make book` (jupyter-book) and `make test` (nbval).
CELL_TIMEOUT := $(shell sed -n 's/^ *timeout: *\([0-9][0-9]*\).*/\1/p' _config.yml)
# What `make book` builds; the tests point these at a small book of their own.
BOOK_ROOT ?= .
BOOK_CONFIG ?= $(BOOK_ROOT)/_config.yml
BOOK_TOC ?= $(BOOK_ROOT)/_toc.yml

NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' | sort)
# Re-executed outputs are compared with the stored ones by tests/nbval_numbers.py: words exact, each
# number within the tolerance measured for it (tests/nbval_tolerances.json). STRICT=1: numbers exact
# too, as on the machine that has just refreshed the outputs.
STRICT ?=
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=$(CELL_TIMEOUT) \
  -p tests.nbval_numbers $(if $(filter-out 0,$(STRICT)),--nbval-strict)

.PHONY: book test install unit notebooks html html-strict browser lab refresh costs spread clean env

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$$(grep -E '^torch==' requirements.txt)"
	$(BIN)/python -m pip install -qq -r requirements.txt
	$(BIN)/python -m pip install -qq --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The main job: execute every notebook and build the HTML book into _build/html. Any failing cell,
# timeout or warning fails the build (-W), naming the notebook, instead of a page with a traceback.
book: $(STAMP)
	@mkdir -p $(BOOK_ROOT)/_build && touch $(BOOK_ROOT)/_build/.book-started
	@set -o pipefail; $(BIN)/jupyter-book build $(BOOK_ROOT) --path-output $(BOOK_ROOT) --config $(BOOK_CONFIG) \
	  --toc $(BOOK_TOC) -W -n --keep-going 2>&1 | tee $(BOOK_ROOT)/_build/book.log; status=$$?; \
	  if [ $$status -ne 0 ]; then \
	    echo "error: the book did not build; notebooks that failed or warned:"; \
	    grep -E ": (WARNING|ERROR|CRITICAL): " $(BOOK_ROOT)/_build/book.log | sort -u | head -40; \
	    for log in $$(find $(BOOK_ROOT)/_build/html/reports -name '*.err.log' -newer $(BOOK_ROOT)/_build/.book-started 2>/dev/null); do \
	      echo "--- $$log (last lines)"; grep -v '^\s*$$' "$$log" | tail -n 4; done; \
	    exit $$status; fi
	@echo "Book written to $(abspath $(BOOK_ROOT))/_build/html/index.html"

# Everything CI checks.
test: unit notebooks html-strict browser

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests --ignore=tests/browser

# Each run starts from an empty embedding cache of its own, as the stored outputs were made (a chapter
# that finds its vectors cached prints no encoding progress), whatever `make book` left in .cache/ragmtl.
NBVAL_CACHE := $(CURDIR)/.cache/nbval
notebooks: $(STAMP)
	rm -rf $(NBVAL_CACHE)
	RAGMTL_CACHE=$(NBVAL_CACHE) $(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL) $(NOTEBOOKS)

# Build from the stored notebook outputs (no execution), warnings as errors.
html-strict: $(STAMP)
	rm -rf _build/html _build/jupyter_execute
	sed -e 's/^\(  *execute_notebooks:\).*/\1 "off"/' _config.yml > _build_config_stored.yml
	$(BIN)/jupyter-book build . --path-output . --config _build_config_stored.yml --toc _toc.yml -W -n --keep-going; \
	  status=$$?; rm -f _build_config_stored.yml; exit $$status
	@# The book must work offline: no page may load a script from another site (MathJax included).
	@if grep -rlE '<script[^>]+src="(https?:)?//' _build/html --include='*.html'; then \
	  echo "error: pages above load a script from the network"; exit 1; fi

# Every built page opened in headless Chromium (Debian's chromium and chromium-driver): console
# errors, images, MathJax, folded solutions, internal links, search. Reads _build/html as built.
browser: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

# The chapters in JupyterLab, with the data and cache folders `make book` uses (and its OMP setting).
LAB_PORT ?= 8888
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR)/book --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Re-execute every notebook in place (Restart & Run All) from an empty embedding cache, to
# refresh the stored outputs; records each notebook's wall time and peak memory on the way.
refresh: $(STAMP)
	rm -rf $(RAGMTL_CACHE)
	$(BIN)/python benchmarks/notebook_costs.py --inplace $(NOTEBOOKS)

# How far each printed number moves on other machines (simulated here: one thread; no bfloat16 and
# AVX2 kernels), and the tolerances `make test` allows: the two runs side by side, one core each
# (about 50 minutes for the book), then the comparison with the stored outputs. After `make refresh`,
# run it for the notebooks that changed: make spread SPREAD_NOTEBOOKS="book/mtl.ipynb".
SPREAD_NOTEBOOKS ?=
spread: $(STAMP)
	mkdir -p _build
	$(BIN)/python benchmarks/nbval_spread.py run one-thread $(SPREAD_NOTEBOOKS) > _build/spread-one-thread.log 2>&1 & \
	$(BIN)/python benchmarks/nbval_spread.py run no-bf16-avx2 $(SPREAD_NOTEBOOKS); s2=$$?; wait $$!; s1=$$?; \
	  cat _build/spread-one-thread.log; [ $$s1 -eq 0 ] && [ $$s2 -eq 0 ]
	$(BIN)/python benchmarks/nbval_spread.py derive

# Wall time and peak memory of every notebook -> benchmarks/results/notebook_costs.json
costs: $(STAMP)
	$(BIN)/python benchmarks/notebook_costs.py $(NOTEBOOKS)

clean:
	rm -rf _build .cache

# The data and cache folders the other targets use (absolute paths).
env:
	@echo "RAGMTL_DATA=$(RAGMTL_DATA)"
	@echo "RAGMTL_CACHE=$(RAGMTL_CACHE)"

# Course assignments, graded with otter-grader (book page "For instructors"). `make assignments`
# builds _build/assignments/{student,autograder,solution}/ from assignments/*.ipynb and grades every
# solution on the way; `make grade SUBMISSIONS=folder` grades every file under the folder (no
# Docker: otter run in this environment, GRADE_TIMEOUT seconds each) into _build/assignments/grades.csv.
ASSIGNMENTS_OUT := _build/assignments
SUBMISSIONS ?= submissions
GRADE_TIMEOUT ?= 120
GRADE_JOBS ?= 1
.PHONY: assignments grade

assignments: $(ASSIGNMENTS_OUT)/questions.json

$(ASSIGNMENTS_OUT)/questions.json: $(wildcard assignments/*.ipynb) ragmtl/assignments.py $(STAMP)
	rm -rf $(ASSIGNMENTS_OUT)/student $(ASSIGNMENTS_OUT)/autograder $(ASSIGNMENTS_OUT)/solution $@
	$(BIN)/python -m ragmtl.assignments build --out $(ASSIGNMENTS_OUT)

grade: $(ASSIGNMENTS_OUT)/questions.json
	$(BIN)/python -m ragmtl.assignments grade $(SUBMISSIONS) --out $(ASSIGNMENTS_OUT) \
	  --timeout $(GRADE_TIMEOUT) --jobs $(GRADE_JOBS)

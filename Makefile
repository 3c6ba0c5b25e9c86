# ragmtl: two commands do everything on a fresh machine.
#   make book   create .venv if missing, install, execute every notebook, build the HTML book
#   make test   unit tests + every notebook re-executed under nbval + book build, warnings as errors
# RAGMTL_DATA is taken from the environment (CI: ../shared/data; a relative path is made absolute);
# without it the data go to ~/.cache/ragmtl/data and are downloaded on a miss.

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

NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' | sort)
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900

.PHONY: book test install unit notebooks html html-strict refresh costs clean env

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq "$$(grep -E '^torch==' requirements.txt)"
	$(BIN)/python -m pip install -qq -r requirements.txt
	$(BIN)/python -m pip install -qq --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The main job: execute every notebook and build the HTML book into _build/html.
book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . --config _config.yml --toc _toc.yml
	@echo "Book written to $(CURDIR)/_build/html/index.html"

# Everything CI checks.
test: unit notebooks html-strict

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

notebooks: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL) $(NOTEBOOKS)

# Build from the stored notebook outputs (no execution), warnings as errors.
html-strict: $(STAMP)
	rm -rf _build/html _build/jupyter_execute
	sed -e 's/^\(  *execute_notebooks:\).*/\1 "off"/' _config.yml > _build_config_stored.yml
	$(BIN)/jupyter-book build . --path-output . --config _build_config_stored.yml --toc _toc.yml -W -n --keep-going; \
	  status=$$?; rm -f _build_config_stored.yml; exit $$status
	@# The book must work offline: no page may load a script from another site (MathJax included).
	@if grep -rlE '<script[^>]+src="(https?:)?//' _build/html --include='*.html'; then \
	  echo "error: pages above load a script from the network"; exit 1; fi

# Re-execute every notebook in place (Restart & Run All) from an empty embedding cache, to
# refresh the stored outputs; records each notebook's wall time and peak memory on the way.
refresh: $(STAMP)
	rm -rf $(RAGMTL_CACHE)
	$(BIN)/python benchmarks/notebook_costs.py --inplace $(NOTEBOOKS)

# Wall time and peak memory of every notebook -> benchmarks/results/notebook_costs.json
costs: $(STAMP)
	$(BIN)/python benchmarks/notebook_costs.py $(NOTEBOOKS)

clean:
	rm -rf _build .cache

# The data and cache folders the other targets use (absolute paths).
env:
	@echo "RAGMTL_DATA=$(RAGMTL_DATA)"
	@echo "RAGMTL_CACHE=$(RAGMTL_CACHE)"

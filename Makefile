# equidesign: `make demo` and `make test` set up .venv when it is missing, then run.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.equidesign-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench lint venv clean browser

$(STAMP): pyproject.toml
	@command -v gfortran >/dev/null 2>&1 || { \
	  echo "equidesign: installing gfortran (escnn's py3nj needs a Fortran compiler)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq gfortran; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# mace-torch pins e3nn==0.4.4 but runs on e3nn 0.6: without its dependencies (pyproject's
	# test extras name the few it needs)
	$(PY) -m pip install -q --no-deps mace-torch==0.3.16
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/equidesign design specs/c4_image_classifier.yaml -o out/demo

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "equidesign: installing chromium (the HTML report is checked in a headless browser)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test: $(STAMP) browser
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

clean:
	rm -rf $(VENV) out .pytest_cache

# Two commands for everyone: `make demo` and `make test`. Both create .venv when it is
# missing and (re)install the package only when pyproject.toml changed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

export PYTHONHASHSEED := 0

.PHONY: install demo test lint unit notebooks lab bench release clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Part 1: the library on the lecture's example. Part 2: the grading job on a synthetic class of
# 20+ students per assignment in demo_course/ (a rerun resumes; ARGS=--fresh starts over).
demo: $(STAMP)
	$(BIN)/python -m course.demo
	$(BIN)/python -m course.democlass $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q tests

notebooks: $(STAMP)  ## re-execute the lecture notebooks and store outputs per the policy
	$(BIN)/python -m course.nbtools notebooks/*.ipynb

# Both cores: pytest-xdist with one file per worker (module fixtures grade a whole batch once).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --nbval-lax tests notebooks

# Kernels inherit JAX_NUM_CPU_DEVICES (default 4: ps4's pmap gets four CPU devices); JAX fixes
# the count when it starts, so it is set here, never in a notebook cell.
lab: $(STAMP)
	JAX_NUM_CPU_DEVICES=$${JAX_NUM_CPU_DEVICES:-4} $(BIN)/jupyter lab

# Regenerate release/ from source/ with nbgrader (refuses while embedded expected values in
# the hidden tests are stale: `$(BIN)/course expected --write` first). Commit the result.
release: $(STAMP)
	$(BIN)/course expected
	$(BIN)/course release

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_hb.py
	$(BIN)/python benchmarks/bench_sim.py
	$(BIN)/python benchmarks/bench_jax.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# Two commands for everyone: `make demo` and `make test`. Both create .venv when it is
# missing and (re)install the package only when pyproject.toml changed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

export PYTHONHASHSEED := 0

.PHONY: install system demo test lint unit notebooks lab bench release clean

# A line per step, so a first install (minutes: jax, jupyterlab, nbgrader) is never silent.
install: $(STAMP) system

$(STAMP): pyproject.toml
	@echo "==> set-up 1/3: virtualenv $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@echo "==> set-up 2/3: upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> set-up 3/3: installing the course package and its test tools (pip install -e '.[test]'; a few minutes the first time)"
	@$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)
	@echo "==> set-up done: $(VENV) is ready"

# System packages the tests need, by their Debian names: chromium (tests/test_browser.py;
# Playwright's own browser download does not work on these machines), postgresql (the
# server gradebook of tests/test_cluster.py), node-configurable-http-proxy (JupyterHub's
# proxy for tests/test_hub.py) and acl (setfacl: that test's accounts reach a Python under
# /root). Installed with apt-get when missing and root;
# otherwise set-up names the command. Add a package here, never by hand.
APT_PACKAGES := chromium postgresql node-configurable-http-proxy acl
system:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "==> set-up: system packages missing:$$missing (apt-get install)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $$missing >/dev/null \
	    && echo "==> set-up: installed$$missing"; \
	else \
	  echo "==> set-up: missing system packages the tests need: sudo apt-get install$$missing" >&2; \
	fi

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
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --nbval-lax tests notebooks

# Kernels inherit JAX_NUM_CPU_DEVICES (default 4: ps4's pmap gets four CPU devices); JAX fixes
# the count when it starts, so it is set here, never in a notebook cell.
# ROLE=student (default): the student profile course/lab/student (no Create Assignment
# sidebar, no Formgrader, no course list; Assignments and Validate stay).
# ROLE=instructor: every nbgrader extension. ARGS are passed to jupyter lab
# (make lab ARGS="--no-browser --port 9999"); as root, --allow-root is added. COURSE is the
# folder it serves and whose nbgrader_config.py the formgrader reads (default: this one;
# e.g. make lab ROLE=instructor COURSE=demo_course after make demo).
ROLE ?= student
COURSE ?= .
LAB_PROFILE := $(abspath course/lab/student)
lab: $(STAMP)
	@case "$(ROLE)" in student|instructor) ;; \
	  *) echo "make lab: ROLE must be student or instructor, not '$(ROLE)'" >&2; exit 2;; esac
	@echo "==> JupyterLab as $(ROLE) in $(abspath $(COURSE))"
	cd $(COURSE) && JAX_NUM_CPU_DEVICES=$${JAX_NUM_CPU_DEVICES:-4} \
	$(if $(filter student,$(ROLE)),JUPYTER_CONFIG_PATH=$(LAB_PROFILE)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}) \
	$(abspath $(BIN))/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(ARGS)

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

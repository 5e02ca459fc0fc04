# AudioFuse: one command per job. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= smoke
DATA_DIR ?=
SEEDS ?= [0, 1, 2]
# SEEDS as a YAML list for papermill: "[0, 1, 2]" as it is, "0 1 2" becomes "[0, 1, 2]".
comma := ,
empty :=
space := $(empty) $(empty)
seeds_yaml = $(if $(findstring [,$(1)),$(1),[$(subst $(space),$(comma)$(space),$(strip $(1)))])
# $(call given,NAME): non-empty when NAME was set on the command line or in the environment
given = $(filter command line environment,$(origin $(1)))
# `make demo` runs one seed unless SEEDS is given (SEEDS="0 1 2" for the full demo) ...
DEMO_SEEDS := $(if $(call given,SEEDS),$(SEEDS),0)
# ... and 3 PASCAL head splits instead of 20 (the synthetic demo shows the pipeline runs)
DEMO_HEAD_SPLITS := $(if $(call given,HEAD_SPLITS),$(HEAD_SPLITS),3)
# ... and, in the quick default (no SEEDS given), at most 8 epochs per run instead of the
# smoke profile's 25: the first complete set of tables and figures in about 8 minutes
DEMO_EPOCHS := $(if $(call given,EPOCHS),$(EPOCHS),$(if $(call given,SEEDS),null,8))
EPOCHS ?= null
N_BOOT ?= 1000
HEAD_SPLITS ?= 20
TRAIN ?= True
DATA_KIND := $(if $(strip $(DATA_DIR)),real,synthetic)
EXECUTED := results/$(DATA_KIND)/$(PROFILE)/notebooks
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
SHARED_DATA := $(wildcard ../shared/data/physionet2016)
BENCH_DATA_DIR ?= $(if $(SHARED_DATA),../shared/data,)

.PHONY: help setup data demo demo-clock reproduce tables test test-fast lint bench clean notebooks

help:
	@echo "make setup      venv + pinned requirements + editable install"
	@echo "make demo       whole reproduction on synthetic data, smoke profile (offline, minutes)"
	@echo "make test       the test suite (full, as CI runs it)"
	@echo "make test-fast  the suite without the slow tests (notebooks, trainings): the edit loop"
	@echo "make data       download PhysioNet 2016 and PASCAL into data/"
	@echo "make reproduce  every notebook via papermill: PROFILE=paper|cpu|smoke DATA_DIR=..."
	@echo "                (TRAIN=False: tables from runs trained elsewhere, e.g. on a GPU)"
	@echo "make tables     every table/figure/README block from the committed per-run scores"
	@echo "                (results/<data>/<profile>/scores/): PROFILE=... DATA_DIR=..., no training"
	@echo "make bench      speed, memory and demo time against their goals -> results/benchmark.md"
	@echo "make lint       ruff, then lint-imports (the layers of docs/architecture.md)"
	@echo "make clean      remove generated files (never committed results)"

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# pip byte-compiles on one core; compileall on every core, the same files: a fresh
	@# venv in 72 s instead of 96 s on 2 cores (and imports stay fast: no skipping it).
	@# The packages' own test suites (a quarter of the sources) are never imported here:
	@# left out, 48 s of compiling instead of 61 s (the pattern is searched in the full
	@# path, so it starts at site-packages: a clone under some /tests/ folder compiles all).
	$(BIN)/python -m pip install -q --no-compile -r requirements.txt
	$(BIN)/python -m pip install -q --no-compile --no-deps -e .
	@# librosa (the classical baseline) compiles its numba kernels on first import, ~30 s; once
	@# here, into its cache, rather than in every process of the first notebooks and tests.
	@# On one core, beside the byte-compiling: the two share the machine's 2 cores.
	$(BIN)/python -c "import librosa.feature, librosa.onset" & warm=$$!; \
	  $(BIN)/python -m compileall -q -j 0 -x 'site-packages/.+(/tests?/|_test\.py$$)' "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"; \
	  compiled=$$?; wait $$warm && exit $$compiled
	touch $@

data: setup
	$(BIN)/audiofuse data download physionet2016
	$(BIN)/audiofuse data download pascal

# The demo writes everything under results/synthetic/, which git ignores (synthetic
# results are never committed: their last bits depend on the CPU), so a checkout stays
# clean. It records its wall time (the venv's build included, on a fresh clone) in
# results/synthetic/smoke/demo_runs.json, which `make bench` reports: DEMO_CLOCK holds
# its start and whether the venv was still to build, written before setup runs.
DEMO_CLOCK := .demo_clock
demo: demo-clock setup
	@echo "demo: synthetic data, smoke profile, seeds $(call seeds_yaml,$(DEMO_SEEDS)), $(DEMO_HEAD_SPLITS) PASCAL head splits," \
	  "$(if $(filter null,$(DEMO_EPOCHS)),the profile's epochs,at most $(DEMO_EPOCHS) epochs per run)" \
	  "$(if $(filter 0,$(DEMO_SEEDS)),(the quick default; SEEDS=\"0 1 2\" for the full run),)"
	$(MAKE) reproduce PROFILE=smoke DATA_DIR= SEEDS="$(DEMO_SEEDS)" HEAD_SPLITS=$(DEMO_HEAD_SPLITS) EPOCHS=$(DEMO_EPOCHS)
	$(BIN)/python -m audiofuse.benchmark.record_demo results/synthetic/smoke/demo_runs.json \
	  --clock $(DEMO_CLOCK) --seeds $(call seeds_args,$(call seeds_yaml,$(DEMO_SEEDS))) \
	  --head-splits $(DEMO_HEAD_SPLITS) --epochs $(DEMO_EPOCHS)

demo-clock:
	@echo "$$(date +%s) $(if $(wildcard $(VENV)/.installed),0,1)" > $(DEMO_CLOCK)

# With TRAIN=True, `audiofuse train-runs` first trains the runs of the tables
# (notebooks 02-08) WORKERS at a time, each with its share of the cores: on 2 cores two
# single-threaded runs beat one two-threaded run (`make bench`). The notebooks then find
# them trained and scored.
WORKERS ?= 2
# The notebooks then run two at a time where they allow it (each is mostly single-threaded
# table and figure work; audiofuse.reporting.notebooks holds which waits for which).
NOTEBOOK_WORKERS ?= 2
# The notebooks' parameters, one YAML mapping (one line: the shell keeps a backslash-newline
# inside quotes)
NOTEBOOK_PARAMETERS = {PROFILE: "$(PROFILE)", DATA_DIR: "$(abspath $(DATA_DIR))", TRAIN: $(TRAIN), SEEDS: $(call seeds_yaml,$(SEEDS)), EPOCHS: $(EPOCHS), N_BOOT: $(N_BOOT), HEAD_SPLITS: $(HEAD_SPLITS)}
seeds_args = $(subst $(comma), ,$(subst [,,$(subst ],,$(1))))
reproduce: setup
	@mkdir -p $(EXECUTED)
	$(if $(filter True,$(TRAIN)),$(BIN)/audiofuse train-runs --profile "$(PROFILE)" \
	  $(if $(strip $(DATA_DIR)),--data-dir "$(abspath $(DATA_DIR))",) \
	  --seeds $(call seeds_args,$(SEEDS)) $(if $(filter null,$(EPOCHS)),,--epochs $(EPOCHS)) \
	  --tables main sweep ablation balance plus loso robust --pascal --diagnostics --head-splits $(HEAD_SPLITS) --workers $(WORKERS),)
	@echo "== notebooks ($(DATA_KIND) data, $(PROFILE) profile), $(NOTEBOOK_WORKERS) at a time"
	$(BIN)/python -m audiofuse.reporting.notebooks $(NOTEBOOKS) --out "$(EXECUTED)" \
	  --workers $(NOTEBOOK_WORKERS) --parameters '$(NOTEBOOK_PARAMETERS)'
	$(BIN)/python -m audiofuse.experiments.scores export runs/$(DATA_KIND)/$(PROFILE) \
	  results/$(DATA_KIND)/$(PROFILE)/scores
	@echo "tables and figures: results/$(DATA_KIND)/$(PROFILE)/ ; executed notebooks: $(EXECUTED)/ ;" \
	  "index: results/$(if $(filter synthetic,$(DATA_KIND)),synthetic/,)README.md"

# Every table, figure and README block from the committed per-run scores
# (results/<data>/<profile>/scores/): no training, no model weights. Synthetic scores
# are never committed: without them (a fresh clone), the tables come from the runs a
# `make demo` left in runs/, or say that they have none.
SCORES := results/$(DATA_KIND)/$(PROFILE)/scores
tables: setup
	@if [ -d "$(SCORES)" ]; then \
	  echo "$(BIN)/python -m audiofuse.experiments.scores restore $(SCORES) runs/$(DATA_KIND)/$(PROFILE)"; \
	  $(BIN)/python -m audiofuse.experiments.scores restore "$(SCORES)" "runs/$(DATA_KIND)/$(PROFILE)"; \
	else echo "$(SCORES): no scores here; the tables come from runs/$(DATA_KIND)/$(PROFILE) as it is"; fi
	$(MAKE) reproduce TRAIN=False PROFILE="$(PROFILE)" DATA_DIR="$(DATA_DIR)" SEEDS="$(SEEDS)"

# Three pytest workers (pytest-xdist, one test file each at a time): the two notebook
# chains (tests/test_notebooks*.py) start first, in two of them, and the rest of the
# suite runs beside them. Two workers kept ~1.4 of the 2 cores busy (tracing is
# single-threaded Python), three ~1.7, four were slower. The files' order is conftest.py's
# (--no-loadscope-reorder: xdist would put the chains, few tests each, last).
TEST_WORKERS ?= 3
PYTEST_XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: setup
	$(BIN)/python -m pytest -q $(PYTEST_XDIST)

test-fast: setup
	$(BIN)/python -m pytest -q $(PYTEST_XDIST) -m "not slow"

lint: setup
	$(BIN)/ruff check src tests scripts
	$(BIN)/lint-imports --no-cache

bench: setup
	$(BIN)/audiofuse bench $(if $(BENCH_DATA_DIR),--data-dir $(BENCH_DATA_DIR),)

notebooks: setup
	$(BIN)/python scripts/build_notebooks.py

# Generated files only: committed results (tracked by git) always stay. The synthetic
# results of `make demo` and the executed notebooks (both ignored by git) go.
clean:
	rm -rf runs data/synthetic build .pytest_cache .ruff_cache src/*.egg-info $(DEMO_CLOCK)
	rm -rf results/synthetic results/*/*/notebooks
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

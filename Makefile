# kcoro-stream — the two commands of the README:
#   make run    set up what running needs (a C compiler, a venv, the build) and run the default pipeline headless for 3 s
#   make test   set up what the tests need too (Debian packages, test extras) and run every test:
#               lint (ruff, mypy), C tests (plain, ASan/UBSan, TSan), pytest
#   make generate  rewrite the C headers generated from the schema (native/include/kcs_{events,hist}.h)
#
# Quiet unless something fails: apt and pip write to build/make-logs/*.log, which is
# printed when a step fails. Nothing is reinstalled when nothing changed: the install
# is recorded in a stamp file that depends on pyproject.toml, setup.py and the C sources.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LOGS   := build/make-logs
# Debian packages: running needs a C compiler (the cffi build); the tests drive
# real tools (jq, zstd, tmux, Prometheus, Chromium).
RUN_APT  := build-essential
TEST_APT := $(RUN_APT) zstd jq tmux prometheus chromium chromium-driver
# Wait this long for another apt/dpkg (unattended-upgrades, a colleague) to let go of the lock.
APT_LOCK_TIMEOUT ?= 120
# Everything the editable install compiles or reads at build time.
BUILD_INPUTS := pyproject.toml setup.py kcoro_stream/_build_ring.py kcoro_stream/_build_bench.py \
                $(shell find native/include native/reader native/runtime native/bench native/testprod -name '*.[ch]' 2>/dev/null)
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: all deps deps-run deps-test setup setup-test run test lint test-c test-py bench bench-ci clean generate

all: setup

# apt_install(packages, name): install the missing ones quietly (log printed on failure),
# waiting up to APT_LOCK_TIMEOUT s for a lock another apt process holds.
define apt_install
@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
if [ -n "$$missing" ]; then \
  mkdir -p $(LOGS); log=$(LOGS)/apt-$(2).log; \
  echo "installing Debian packages:$$missing (waits up to $(APT_LOCK_TIMEOUT) s for another apt; log: $$log)"; \
  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
  APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=$(APT_LOCK_TIMEOUT) -q -y"; \
  if ! { $$APT update && $$APT install $$missing; } >$$log 2>&1; then \
    cat $$log; echo "make: apt-get failed (the output above is in $$log)" >&2; exit 1; \
  fi; \
fi
endef

deps-run:
	$(call apt_install,$(RUN_APT),run)

deps-test:
	$(call apt_install,$(TEST_APT),test)

deps: deps-test

$(BIN)/python:
	@mkdir -p $(LOGS)
	@$(PYTHON) -m venv $(VENV) >$(LOGS)/venv.log 2>&1 || { cat $(LOGS)/venv.log; exit 1; }
	@$(BIN)/pip install -q --upgrade pip >>$(LOGS)/venv.log 2>&1 || { cat $(LOGS)/venv.log; exit 1; }

# An editable install runs the checkout's sources; with PYTHONDONTWRITEBYTECODE set (CI machines
# often do) every process would compile them again (~0.1 s of CPU per command, hundreds of commands
# in the tests). Their bytecode is written once here; Python ignores a .pyc older than its source.
PRECOMPILE = PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q kcoro_stream >/dev/null

# Editable install: builds the cffi extensions (ring reader, benchmark runtime), with every
# optional surface ([all]: dashboard, page, exporters, report, history, verdicts; a plain
# `pip install .` is the lean headless install, see docs/dependencies.md).
$(RUN_STAMP): $(BUILD_INPUTS) | $(BIN)/python
	@mkdir -p $(LOGS); echo "building kcoro-stream into $(VENV) (log: $(LOGS)/pip-run.log)"
	@$(BIN)/pip install -e '.[all]' >$(LOGS)/pip-run.log 2>&1 || { cat $(LOGS)/pip-run.log; exit 1; }
	@$(PRECOMPILE)
	@touch $@

$(TEST_STAMP): $(BUILD_INPUTS) | $(BIN)/python
	@mkdir -p $(LOGS); echo "building kcoro-stream with its test tools into $(VENV) (log: $(LOGS)/pip-test.log)"
	@$(BIN)/pip install -e '.[all,test]' >$(LOGS)/pip-test.log 2>&1 || { cat $(LOGS)/pip-test.log; exit 1; }
	@$(PRECOMPILE)
	@touch $@ $(RUN_STAMP)

setup: deps-run $(RUN_STAMP)

setup-test: deps-test $(TEST_STAMP)

run: setup
	$(BIN)/kcoro-stream run --duration 3 --no-tui --no-log

lint: setup-test
	$(BIN)/ruff check kcoro_stream tests benchmarks pipelines
	$(BIN)/ruff format --check kcoro_stream tests benchmarks pipelines
	$(BIN)/mypy kcoro_stream
	$(BIN)/python -m kcoro_stream._codegen --check

# events.py / histo.py → the committed C headers (contract 6). Needs only msgspec.
generate: $(BIN)/python
	$(BIN)/pip install -q msgspec
	$(MAKE) -C native generate PYTHON=$(abspath $(BIN)/python)

test-c:
	$(MAKE) -C native test asan tsan

test-py: setup-test
	$(BIN)/pytest -q --durations=25

test: setup-test lint test-c test-py

bench: setup-test
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The regression gate (docs/verdicts.md): profiles/ci.yaml as an interleaved A/B (base and cand
# repeats alternate). Both are this working tree unless BASE_VARIANT names a base build:
# '{python: ../base/.venv/bin/python}' (another install's bundled benchmark) or '{exec: [...]}'.
# Then a report, then compare; exit 1 on a regression. With BASELINE=file.json the profile runs
# once and is compared against that saved baseline instead.
PROFILE      ?= profiles/ci.yaml
BENCH_CI_OUT ?= build/bench-ci
BASE_VARIANT ?= {}
CAND_VARIANT ?= {}
bench-ci: setup
	@rm -rf $(BENCH_CI_OUT) && mkdir -p $(BENCH_CI_OUT)
	@if [ -n "$(BASELINE)" ]; then cp $(PROFILE) $(BENCH_CI_OUT)/profile.yaml; else \
	  { cat $(PROFILE); printf 'variants:\n  base: %s\n  cand: %s\n' '$(BASE_VARIANT)' '$(CAND_VARIANT)'; } \
	    > $(BENCH_CI_OUT)/profile.yaml; fi
	$(BIN)/kcoro-stream manifest run $(BENCH_CI_OUT)/profile.yaml --out-dir $(BENCH_CI_OUT)/results
	$(BIN)/kcoro-stream report $(BENCH_CI_OUT)/results --out $(BENCH_CI_OUT)/report
	@rc=0; $(BIN)/kcoro-stream compare $(if $(BASELINE),$(BASELINE)) $(BENCH_CI_OUT)/results \
	    --markdown > $(BENCH_CI_OUT)/compare.md || rc=$$?; \
	  cat $(BENCH_CI_OUT)/compare.md; cat $(BENCH_CI_OUT)/compare.md >> $(BENCH_CI_OUT)/report/summary.md; \
	  echo "report: $(BENCH_CI_OUT)/report/report.html"; exit $$rc

clean:
	rm -rf build dist *.egg-info kcoro_stream/*.so kcoro_stream/_native.c kcoro_stream/_bench.c $(RUN_STAMP) $(TEST_STAMP)
	-$(MAKE) -C native clean

# kcoro-stream — the two commands of the README:
#   make run    set up (Debian packages, venv, build) and run the default pipeline headless for 3 s
#   make test   set up and run every test: lint (ruff, mypy), C tests (plain, ASan/UBSan, TSan), pytest
#   make generate  rewrite the C headers generated from the schema (native/include/kcs_{events,hist}.h)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
APT_PACKAGES := build-essential zstd jq tmux prometheus chromium chromium-driver

.PHONY: all deps setup run test lint test-c test-py bench clean generate

all: setup

# Debian packages the tests drive for real (Prometheus, Chromium, tmux, jq, zstd).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Editable install builds the cffi extensions (ring reader, benchmark runtime).
setup: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

run: deps setup
	$(BIN)/kcoro-stream run pipelines/default.py --duration 3 --no-tui --no-log

lint: setup
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

test-py: setup
	$(BIN)/pytest -q

test: deps setup lint test-c test-py

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf build dist *.egg-info kcoro_stream/*.so kcoro_stream/_native.c kcoro_stream/_bench.c
	-$(MAKE) -C native clean

# SiKesal: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck bench bench-speed bench-duplicates bench-timers bench-dashboard migrate clean diagram screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sikesal migrate
	$(BIN)/sikesal run

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check bot handlers routing storage localapi tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# the six benchmarks: first issue 14's goals, SiKesal beside the no-op bot, each in its own process (about 8 minutes;
# SPEED_ARGS=--quick about 3, or e.g. "--only lifted pace"), then the others (about 8 minutes with PostgreSQL
# reachable, plus the dashboard's); DUPLICATES_ARGS, TIMERS_ARGS and DASHBOARD_ARGS e.g. "--rows 200000",
# MULTIPROC_ARGS e.g. "--users 200 --processes 1 2 3"
bench: $(STAMP)
	$(BIN)/python -m bench.speed $(SPEED_ARGS)
	$(BIN)/python -m bench.filings $(BENCH_ARGS)
	$(BIN)/python -m bench.duplicates $(DUPLICATES_ARGS)
	$(BIN)/python -m bench.timers $(TIMERS_ARGS)
	$(BIN)/python -m bench.dashboard $(DASHBOARD_ARGS)
	$(BIN)/python -m bench.multiproc $(MULTIPROC_ARGS)

bench-speed: $(STAMP)
	$(BIN)/python -m bench.speed $(SPEED_ARGS)

bench-duplicates: $(STAMP)
	$(BIN)/python -m bench.duplicates $(DUPLICATES_ARGS)

bench-timers: $(STAMP)
	$(BIN)/python -m bench.timers $(TIMERS_ARGS)

bench-dashboard: $(STAMP)
	$(BIN)/python -m bench.dashboard $(DASHBOARD_ARGS)

migrate: $(STAMP)
	$(BIN)/sikesal migrate

screenshots: $(STAMP)
	$(BIN)/python -m tests.web.screenshots

diagram: $(STAMP)
	$(BIN)/python -m handlers.diagram --write docs/conversation.md README.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Every install step lives here: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
# the demo needs clinicast alone: not the test tools (pytest, ruff, mypy...), which take a
# minute more on a fresh clone
APP_STAMP = $(VENV)/.installed-app

.PHONY: demo test install bench clean

$(APP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $(APP_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(APP_STAMP) $(STAMP)

install: $(STAMP)

demo: $(APP_STAMP)
	$(BIN)/clinicast demo

# the checks first (seconds), then the suite; CI runs exactly this
test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache

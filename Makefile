# Every install step lives here: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
# the demo needs clinicast alone: not the test tools (pytest, ruff, mypy...), which take a
# minute more on a fresh clone
APP_STAMP = $(VENV)/.installed-app

.PHONY: demo test install bench clean messages locale mutants soak

# The staff's language (SPEC §12, core/i18n.py): Babel's gettext catalogues.
# `make messages` extracts every _() / ngettext() / N_() of core, cli, tui and click's own
# texts into the .pot and merges it into each .po (then translate the new fr entries);
# `make locale` compiles the .mo that ships in the package. tests/test_i18n_catalogue.py
# fails when the .pot, a .po or a .mo does not match the sources.
LOCALE = core/locale
POT = $(LOCALE)/clinicast.pot
LANGS = fr en
MO = $(foreach l,$(LANGS),$(LOCALE)/$(l)/LC_MESSAGES/clinicast.mo)
CLICK_DIR = $(shell $(BIN)/python -c 'import click, os; print(os.path.dirname(click.__file__))' 2>/dev/null)
EXTRACT = $(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output --omit-header --no-wrap \
	-k _ -k N_ -k ngettext:1,2 -k gettext -k pgettext:1c,2

messages: $(STAMP)
	$(EXTRACT) -o $(POT) core cli tui $(CLICK_DIR)
	$(BIN)/pybabel -q update -i $(POT) -d $(LOCALE) -D clinicast --no-wrap --ignore-obsolete --ignore-pot-creation-date
	$(MAKE) locale

locale: $(MO)

$(LOCALE)/%/LC_MESSAGES/clinicast.mo: $(LOCALE)/%/LC_MESSAGES/clinicast.po $(APP_STAMP)
	$(BIN)/pybabel -q compile -D clinicast -i $< -o $@

$(APP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $(APP_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(APP_STAMP) $(STAMP)

install: $(STAMP) locale

demo: $(APP_STAMP) locale
	$(BIN)/clinicast demo

# the checks first (seconds), then the suite; CI runs exactly this
test: $(STAMP) locale
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 4 -q $(PYTEST_ARGS)

# The quick suite N times in a row with two CPU burners (issue #22's check; .ci/soak):
# about 9 minutes a run on 2 cores. Not part of `test`.
N ?= 10
soak: $(STAMP) locale
	bash .ci/soak $(N)

# Mutation testing of the rules that decide who gets what (issue #22): permissions, the
# consent rules, sending hours, the hand-over, the 5,000 cap — against their quick tests
# ([tool.mutmut] in pyproject.toml). Long (tens of minutes on 2 cores): not part of `test`.
# CONTRIBUTING.md lists the mutants that survive and why. Some of them only, by name
# pattern: `make mutants MUTANTS="core.sending_hours.* core.context.x_for_current_user*"`.
mutants: $(STAMP) locale
	rm -rf mutants
	CLINICAST_TEST_PG_URL= nice -n 5 $(BIN)/mutmut run --max-children 2 $(foreach m,$(MUTANTS),'$(m)') || true
	$(BIN)/mutmut results

# Every benchmark group (issue #21: medians of three, each beside its target and a bare
# baseline run in the same run; CLINICAST_TEST_PG_URL set measures PostgreSQL too), or
# some: `make bench BENCH="history assign"` (groups: history import assign delivery relay
# tui). The million-patient import takes long: BENCH_IMPORT_ROWS=100000 leaves it out.
bench: $(STAMP) locale
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache mutants

"""clinicast's core: every rule, headless (the screens are `tui`, the command line `cli`;
core imports neither). CONTRIBUTING.md's tree has a line for each module and package;
each package's __init__ is its own map."""

from __future__ import annotations

from functools import cache

from core import orm

orm.defer_driver()  # peewee loads psycopg only when a PostgreSQL database is opened


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        # one place for the version: pyproject.toml, as installed (`pip install -e .` too)
        return version("clinicast")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    # `core.__version__`, read when asked (importlib.metadata costs a command that never
    # shows it a tenth of its start)
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'core' has no attribute {name!r}")

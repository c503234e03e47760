"""clinicast's core: every rule, headless (the screens are `tui`, the command line `cli`;
core imports neither). CONTRIBUTING.md's tree has a line for each module and package
(recipients/ and delivery/ hand theirs to their own __init__); each package's __init__
is its own map. tests/test_habits.py checks both maps."""

from __future__ import annotations

from functools import cache

from core import orm

orm.defer_driver()  # peewee loads psycopg only when a PostgreSQL database is opened


@cache
def _version() -> str:
    # the installed distribution's METADATA, found as importlib.metadata finds it (the
    # first `clinicast-*.dist-info` along sys.path) but without importing it: that import
    # was two thirds of a whole `clinicast --version` process (issue #21)
    import os
    import sys

    for entry in sys.path:
        try:
            names = [n for n in os.listdir(entry or ".") if n.startswith("clinicast-") and n.endswith(".dist-info")]
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
                        if not line.strip():  # the headers end: no version there
                            break
            except OSError:
                continue
    return _version_from_metadata()


def _version_from_metadata() -> str:
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

"""clinicast's core: everything but the screens (the TUI lives in `tui`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    # one place for the version: pyproject.toml, as installed (`pip install -e .` too)
    __version__ = version("clinicast")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

"""The git hook and `make test` run the same checks (CONTRIBUTING.md): the hook's local
hooks are exactly the commands the Makefile's test target runs before the suite."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _make_test_checks() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "the Makefile has a test target"
    lines = [line.strip().replace("$(BIN)/", ".venv/bin/") for line in recipe.group(1).splitlines()]
    return [line for line in lines if "pytest" not in line]


def _hook_entries() -> list[str]:
    text = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    return [m.strip() for m in re.findall(r"^\s+entry:\s*(.+)$", text, re.M)]


def test_the_hook_runs_what_make_test_runs_first():
    checks = _make_test_checks()
    assert len(checks) == 4 and checks[0].startswith(".venv/bin/ruff format"), checks
    assert _hook_entries() == checks


def test_every_package_docstring_is_a_map_of_its_modules():
    """A newcomer finds a module from its package's __init__: each of core's packages,
    and the command line's, names every module it holds (`name.py`)."""
    import importlib
    import pkgutil

    import core

    packages = ["cli"] + [f"core.{m.name}" for m in pkgutil.iter_modules(core.__path__) if m.ispkg]
    missing = {}
    for name in packages:
        package = importlib.import_module(name)
        doc = package.__doc__ or ""
        modules = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name[0] not in "_0123456789"]
        if absent := [m for m in modules if f"{m}.py" not in doc and f"{m}/" not in doc]:
            missing[name] = absent
    assert not missing, f"modules not in their package's docstring: {missing}"

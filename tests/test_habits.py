"""The git hook and `make test` run the same checks (CONTRIBUTING.md): the hook's local
hooks are exactly the commands the Makefile's test target runs before the suite. And the
maps a newcomer reads name every module: each package's __init__, CONTRIBUTING.md's tree."""

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
    the command line's and the TUI's, names every module it holds (`name.py`)."""
    import importlib
    import pkgutil

    import core
    import tui

    core_packages = [f"core.{m.name}" for m in pkgutil.iter_modules(core.__path__) if m.ispkg]
    tui_packages = [m.name for m in pkgutil.walk_packages(tui.__path__, "tui.") if m.ispkg]
    packages = ["cli", "tui", *tui_packages, *core_packages]
    missing = {}
    for name in packages:
        package = importlib.import_module(name)
        doc = package.__doc__ or ""
        modules = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name[0] not in "_0123456789"]
        if absent := [m for m in modules if f"{m}.py" not in doc and f"{m}/" not in doc]:
            missing[name] = absent
    assert not missing, f"modules not in their package's docstring: {missing}"


def test_every_package_docstring_names_only_modules_it_holds():
    """The other half of a map: a module that moved out of its package (core/pace.py, once
    named in core.delivery's map) is not looked for where it is no longer. A name with a
    folder is a path from the repository (tests/test_migrations.py); a pattern
    (NNNN_name.py) is no module."""
    import importlib
    import pkgutil

    import core
    import tui

    core_packages = [f"core.{m.name}" for m in pkgutil.iter_modules(core.__path__) if m.ispkg]
    tui_packages = [m.name for m in pkgutil.walk_packages(tui.__path__, "tui.") if m.ispkg]
    gone = {}
    for name in ["cli", "tui", *tui_packages, *core_packages]:
        package = importlib.import_module(name)
        folder = Path(package.__path__[0])
        names = re.findall(r"(?<![\w/.])([a-z0-9_/]+\.py)\b", package.__doc__ or "")
        if absent := [n for n in names if not (folder / n).is_file() and not ("/" in n and (ROOT / n).is_file())]:
            gone[name] = absent
    assert not gone, f"package docstrings naming modules they do not hold: {gone}"


def _tree() -> list[str]:
    """The code block of CONTRIBUTING.md's "Where things live"."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Where things live", 1)[1]
    return section.split("```", 2)[1].splitlines()[1:]


def _tree_modules() -> tuple[set[str], set[str]]:
    """The modules CONTRIBUTING.md's tree names (`core/config/watch.py`), and the packages
    whose line hands their modules to their own __init__'s map ("see its __init__").

    A line's names are under the packages of the less indented lines above it; a name with
    a folder (`screens/base.py`) is under that folder, and so are the bare names after it
    on its line (`screens/modals.py, pickers.py`) or a package's (`channels/  …: smtp.py`);
    a deeper-indented line goes on the line above it (add_patients/'s modules)."""
    named: set[str] = set()
    mapped_by_init: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder) of the open package lines
    for line in _tree():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        under = stack[-1][1] if stack else ""
        head = line.split()[0].rstrip(",")
        folder = under + head.rpartition("/")[0] + "/" if "/" in head else under
        for name in re.findall(r"[\w/]+\.py\b", line):
            named.add(under + name if "/" in name else folder + name)
        if head.endswith("/"):
            stack.append((indent, folder))
            if "see its __init__" in line:
                mapped_by_init.add(folder)
    return named, mapped_by_init


def test_contributing_tree_has_a_line_for_each_module():
    """core/__init__.py's promise: CONTRIBUTING.md's tree names every module of core, cli
    and tui, under its package — a package whose line says "see its __init__" is mapped by
    its __init__ (the test above) — and no module that is not there. Migrations (numbered),
    __init__ and __main__ are left out, as in the test above."""
    named, mapped_by_init = _tree_modules()
    modules = {
        str(path.relative_to(ROOT))
        for floor in ("core", "cli", "tui")
        for path in (ROOT / floor).rglob("*.py")
        if path.name[0] not in "_0123456789"
    }
    missing = sorted(m for m in modules - named if not any(m.startswith(package) for package in mapped_by_init))
    assert not missing, f"modules without their line in CONTRIBUTING.md's tree: {missing}"
    gone = sorted(m for m in named if m.split("/")[0] in ("core", "cli", "tui") and not (ROOT / m).is_file())
    assert not gone, f"CONTRIBUTING.md's tree names modules that do not exist: {gone}"

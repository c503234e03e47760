"""core is headless: importing every core module never loads textual, tui or cli; the
command line loads the TUI only to open it."""

import pkgutil
import subprocess
import sys

import core


def test_core_never_imports_textual():
    mods = [m.name for m in pkgutil.walk_packages(core.__path__, "core.") if not m.name.endswith(".__main__")]
    assert "core.config.load" in mods and "core.recipients" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui', 'cli'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_the_command_line_loads_no_textual_until_the_tui_opens():
    import cli

    mods = [m.name for m in pkgutil.walk_packages(cli.__path__, "cli.") if not m.name.endswith(".__main__")]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n    importlib.import_module(m)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the command line pulled in: {out.stdout.strip()}"


def _core_graph():
    """core's import graph as grimp reads it from the source: every import statement,
    those inside functions and under TYPE_CHECKING too. Importing `core.a.b` first runs
    `core/a/__init__.py`, so an arrow to a module is also an arrow to each package above it
    (except the importer's own packages, which are already running when it is imported)."""
    import grimp

    g = grimp.build_graph("core", include_external_packages=False, cache_dir=None)
    for importer in sorted(g.modules):
        own = _packages_of(importer) | {importer}
        for imported in g.find_modules_directly_imported_by(importer):
            for package in _packages_of(imported) - own - {"core"}:
                g.add_import(importer=importer, imported=package)
    return g


def _packages_of(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circle_among_core_modules():
    """A circle hidden by an import inside a function is still a circle: the next engineer
    cannot read either module without the other, and an import moved to the top breaks."""
    g = _core_graph()
    circles = set()
    for importer in sorted(g.modules):
        for imported in g.find_modules_directly_imported_by(importer):
            back = g.find_shortest_chain(importer=imported, imported=importer)
            if back:
                circles.add(" -> ".join((importer, *back)))
    assert not circles, "import circles in core:\n" + "\n".join(sorted(circles))


def test_the_circle_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The check above would catch the circles that were opened (catalogue <-> text was
    one through an import inside a method)."""
    pkg = tmp_path / "circ"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circ.b import y\nx = 1\n")
    (pkg / "b.py").write_text("y = 2\ndef f():\n    from circ.a import x\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import grimp

    g = grimp.build_graph("circ", cache_dir=None)
    assert g.find_shortest_chain(importer="circ.b", imported="circ.a") == ("circ.b", "circ.a")
    assert g.find_shortest_chain(importer="circ.a", imported="circ.b") == ("circ.a", "circ.b")

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

"""The README's template files (its "A template file" section) pass the checks made at
save: a template written from the README must not be refused."""

import re
from pathlib import Path

from core import templating

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"```toml\n# (\S+\.toml) — an? (invitation|broadcast)\n(.*?)```", re.S)


def test_every_template_file_in_the_readme_is_accepted(tmp_path):
    found = _BLOCK.findall(README.read_text(encoding="utf-8"))
    assert {kind for _, kind, _ in found} == {"invitation", "broadcast"}, found
    for name, kind, text in found:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        problems = templating.validate_set(kind, templating.load_template_file(path), "fr")
        assert not problems, (name, [str(p) for p in problems])

"""Template files: TOML, one table a language (subject, body, title, push), read
bounded through `core.infile`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from core import infile, tomlwords
from core.errors import BadInput
from core.i18n import _
from core.templating.variables import LANGUAGES, TemplateSet

TemplateSetLike = Mapping[str, Mapping[str, str]]

# --- template file -----------------------------------------------------------------


_FILE_KEYS = ("subject", "title", "body", "push")
_TABLES = tuple(f"[{lang}]" for lang in LANGUAGES)


class TemplateFileError(Exception):
    """A template file that cannot be used; the message is one line naming file and key."""


def load_template_file(path: str | Path) -> TemplateSet:
    """Read a TOML template file (one table a language: subject, body, title, push)."""
    try:  # bounded, devices and FIFOs refused (issue #8); a UTF-8 BOM (Windows editors) is fine
        raw = infile.read_bytes(path, limit=infile.TEMPLATE_LIMIT, what=_("a template file"))
        data = tomllib.loads(tomlwords.text_of(raw))
    except BadInput as error:
        raise TemplateFileError(str(error)) from None
    except tomlwords.NotUtf8 as error:
        raise TemplateFileError(_("{path}: {problem}").format(path=path, problem=error)) from None
    except tomllib.TOMLDecodeError as error:
        raise TemplateFileError(_("{path}: {problem}").format(path=path, problem=tomlwords.problem(error))) from error
    except RecursionError:
        raise TemplateFileError(_("{path}: TOML nested too deeply").format(path=path)) from None
    if not data:  # nothing would change: said, rather than a save that keeps everything
        raise TemplateFileError(
            _("{path}: no language table; expected {tables}").format(path=path, tables=_(" or ").join(_TABLES))
        )
    templates: TemplateSet = {}
    for language, fields in data.items():
        if language not in LANGUAGES:
            raise TemplateFileError(
                _("{path}: unknown language '{language}'; expected {choices}").format(
                    path=path, language=language, choices=_(" or ").join(LANGUAGES)
                )
            )
        if not isinstance(fields, dict):
            raise TemplateFileError(
                _("{path}: '{language}' must be a table, like [{language}]").format(path=path, language=language)
            )
        for key, value in fields.items():
            if key not in _FILE_KEYS:
                raise TemplateFileError(
                    _("{path}: unknown key '{key}'; expected one of {choices}").format(
                        path=path, key=f"{language}.{key}", choices=", ".join(_FILE_KEYS)
                    )
                )
            if not isinstance(value, str):
                raise TemplateFileError(
                    _("{path}: '{key}' must be a string").format(path=path, key=f"{language}.{key}")
                )
        templates[language] = dict(fields)
    return templates


def over(given: TemplateSetLike, base: TemplateSetLike) -> TemplateSet:
    """What saving a template file makes of the templates it replaces (`base`: the
    campaign's, or a new invitation's default): a language the file gives replaces that
    version (an empty table, `[en]` alone, empties it on purpose); a language it leaves
    out keeps `base`'s — a file with only `[fr]` never empties the English version."""
    return {lang: dict(given[lang] if lang in given else base.get(lang) or {}) for lang in LANGUAGES}

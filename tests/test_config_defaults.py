"""A key's default is written twice: in the file's model (core.config.schema, what an
administrator reads and what the loader fills in) and in the loaded config's dataclasses
(core.config.types, what code building settings directly gets). The loader always passes
every value, so the two never meet at run time: this test keeps them the same value."""

from __future__ import annotations

import dataclasses
import enum

import msgspec
import pytest

from core.config import schema, types

PAIRS = [
    (schema.ClinicTable, types.ClinicSettings),
    (schema.DatabaseTable, types.DatabaseSettings),
    (schema.EmailTable, types.EmailSettings),
    (schema.GatewayTable, types.GatewaySettings),
    (schema.SchedulerTable, types.SchedulerSettings),
    (schema.SendingTable, types.SendingSettings),
    (schema.ExportsTable, types.ExportsSettings),
    (schema.UserTable, types.User),
]
# the file's key -> the loaded field, where the loader renames it (secrets become references)
RENAMED = {"from_": "sender"}


def _value(v: object) -> object:
    """A default as a value: an enum as its word, a sequence as a list, a number as float."""
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, tuple | list):
        return list(v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return v


def _file_defaults(table: type[msgspec.Struct]) -> dict[str, object]:
    out = {}
    for f in msgspec.structs.fields(table):
        if f.default is not msgspec.NODEFAULT:
            out[f.name] = f.default
        elif f.default_factory is not msgspec.NODEFAULT:
            out[f.name] = f.default_factory()
    return out


def _loaded_defaults(settings: type) -> dict[str, object]:
    out = {}
    for f in dataclasses.fields(settings):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


@pytest.mark.parametrize(("table", "settings"), PAIRS, ids=[t.__name__ for t, _ in PAIRS])
def test_each_key_has_one_default_in_the_file_model_and_the_loaded_settings(table, settings):
    file, loaded = _file_defaults(table), _loaded_defaults(settings)
    compared = 0
    for key, default in file.items():
        name = RENAMED.get(key, key)
        if name in loaded:
            assert _value(loaded[name]) == _value(default), f"{table.__name__}.{key}: {default!r} vs {loaded[name]!r}"
            compared += 1
    assert compared, f"{table.__name__}: no default compared"

"""Fuzzing the input boundaries (issue #8) with hypothesis: the CSV import, the id-list
reader, the template validator and the config loader. Whatever they are given they
raise nothing but the project's own errors (`core.errors.ClinicastError`), and a refused
import leaves the database exactly as it was.

Generated inputs mix the shapes that broke things before: control characters, quotes,
separators and line breaks in cells, dates out of range, leading zeros and full-width
digits in ids, Jinja fragments that multiply, loop and nest, TOML values of every type.
Bounded (`max_examples`, no per-example deadline on a shared machine) to well under a
minute on SQLite; the database cases also run on PostgreSQL when it is configured, in
`tests/test_hostile.py`.
"""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

import pytest
from helpers import add_patients
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import config as cfg
from core import context, recipients, templating
from core.errors import ClinicastError
from core.models import database
from core.patients import upsert

pytestmark = pytest.mark.filterwarnings("ignore")

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example database left in the worktree
)


def snapshot() -> dict[str, list]:
    out = {}
    for table in sorted(database.get_tables()):
        out[table] = sorted(map(repr, database.execute_sql(f'SELECT * FROM "{table}"').fetchall()))
    return out


@pytest.fixture
def ctx(sqlite_url, tmp_path):
    """A SQLite directory with a few patients (the fuzz runs on one engine: speed)."""
    from conftest import write_config

    from core import db as dbmod

    config = cfg.load(write_config(tmp_path, sqlite_url), env={})
    dbmod.bind(config.database.url)
    dbmod.migrate()
    add_patients(5, 1)
    yield context.for_current_user(config)
    database.close()


# --- CSV cells and files ------------------------------------------------------------------------

HEADERS = ["emr_id", "No dossier", "first_name", "prénom", "last_name", "email", "date_of_birth", "language",
           "sex", "app_id", "marketing_consent", "push_enabled", "do_not_contact", "phone", "postal_code",
           "last_visit", "", "id"]  # fmt: skip
NASTY = ["\r\n", "\n", "\r", "\x00", "\t", "\x0b", "\u2028", "\u200b", "\ufeff", "\u202e", '"', ",", ";", "'",
         "0", "00001", "１２３", "9999-12-31", "1850-01-01", "2024-02-30", "31/12/2024", "oui", "non", "F", "X",
         "a@b.co", "Bcc: victim@evil.example", "é", "Ève", " ", "=cmd|' /C calc'!A0"]  # fmt: skip
cell = st.one_of(st.sampled_from(NASTY), st.text(max_size=12), st.text(string.digits, min_size=1, max_size=6))
cells = st.lists(cell, min_size=1, max_size=4).map("".join)


@st.composite
def csv_files(draw) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 1), max_size=6))

    def line(fields):
        return sep.join(f'"{f}"' if draw(st.booleans()) else f for f in fields)

    text = "\n".join([line(header), *(line(r) for r in rows)]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=200))
    return data


def _file(tmp_path: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(suffix=".csv", dir=tmp_path)
    with open(fd, "wb") as f:
        f.write(data)
    return Path(name)


@FUZZ
@given(data=csv_files())
def test_fuzz_csv_import(ctx, tmp_path, data):
    before = snapshot()
    path = _file(tmp_path, data)
    try:
        upsert.import_csv(ctx, path)
    except ClinicastError:
        assert snapshot() == before, "a refused import changed the database"
    finally:
        path.unlink()


@FUZZ
@given(data=csv_files())
def test_fuzz_id_list_reader(ctx, tmp_path, data):
    before = snapshot()
    path = _file(tmp_path, data)
    try:
        report = recipients.read_id_list(ctx, path)
        report.problems()
    except ClinicastError:
        pass
    finally:
        path.unlink()
    assert snapshot() == before, "reading an id list changed the database"


# --- templates ------------------------------------------------------------------------------------

FRAGMENTS = ["{{", "}}", "{%", "%}", "{#", "#}", " ", "\n", "patient.first_name", "patient.last_name",
             "clinic.name", "invitation.url", "x", "'a'", '"b"', "10", "9", "0", "-1", "1e308", "10**9", "*", "**",
             "+", "~", "%", "/", "//", "(", ")", "[", "]", ",", "|", "upper", "center(", "indent(", "replace(",
             "join", "map(attribute='x')", "format", "attr('__class__')", "truncate(", "wordwrap(", "for x in ",
             "endfor", "if ", "else", "endif", "set x = ", "macro m()", "endmacro", "filter upper", "endfilter",
             " recursive", "loop.index", "loop(x)", "range(10)", "__class__", ".__init__", "raw", "endraw",
             "include 'x'", "!=", "==", "and", "not", "Marie-Ève", "\r\n", "\x00"]  # fmt: skip
templates_src = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)


@FUZZ
@given(subject=templates_src, body=templates_src, kind=st.sampled_from(["invitation", "broadcast"]))
def test_fuzz_template_validator(subject, body, kind):
    fields = (
        {"subject": subject, "body": body}
        if kind == "invitation"
        else {"title": subject, "body": body, "push": subject}
    )
    try:
        problems = templating.validate(kind, fields, "fr")
    except ClinicastError:
        return
    if not problems:  # what validates renders, within the budget
        context = templating.sample_context(kind, "en")
        try:
            rendered = templating.render(kind, fields, context)
        except templating.TemplateRenderError:
            return
        for value in (rendered.subject, rendered.text, rendered.title, rendered.body_markdown):
            assert value is None or len(value) <= 64 * 1024 * 2


# --- config ----------------------------------------------------------------------------------------

SECTIONS = {section: list(keys) for section, keys in cfg.SCHEMA.items()}
toml_value = st.recursive(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(
            [
                "",
                "smtp",
                "maildir",
                "log",
                "http",
                "starttls",
                "fr",
                "UTC",
                "America/Toronto",
                "sqlite:///x.db",
                "postgresql://u@h:abc/d",
                "http://[::1",
                "a\r\nBcc: x",
            ]
        ),  # fmt: skip
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.lists(st.text(max_size=8), max_size=3),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def configs(draw) -> dict:
    data: dict = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "users", "bogus"]), max_size=5)):
        if section == "users":
            data["users"] = draw(st.dictionaries(st.text(max_size=8), st.dictionaries(
                st.sampled_from(["name", "permissions", "language", "email", "app_id", "x"]), toml_value, max_size=4),
                max_size=2))  # fmt: skip
        elif section == "bogus" or draw(st.integers(0, 9)) == 0:
            data[section] = draw(toml_value)
        else:
            keys = SECTIONS[section] + ["unknown"]
            data[section] = draw(st.dictionaries(st.sampled_from(keys), toml_value, max_size=5))
    return data


def _every_line_names_the_file(err: ClinicastError, path: Path) -> list[str]:
    lines = str(err).splitlines()
    assert lines, "a refusal says why"
    for line in lines:
        assert line.startswith(f"{path}: ") and len(line) > len(f"{path}: "), line
    return lines


@FUZZ
@given(data=configs())
def test_fuzz_config_from_dict(tmp_path, data):
    path = tmp_path / "clinicast.toml"
    try:
        cfg.from_dict(data, path, env={})
    except ClinicastError as e:
        _every_line_names_the_file(e, path)
    else:  # what is accepted has what every config needs
        assert {"clinic", "database"} <= set(data) and set(data) <= {*SECTIONS, "users"}, data


def _valid_config(tmp_path: Path) -> dict:
    import tomllib

    from conftest import write_config

    return tomllib.loads(write_config(tmp_path, "sqlite:///tmp/fuzz.db").read_text(encoding="utf-8"))


@FUZZ
@given(section=st.sampled_from(["clinic", "database", "email", "gateway", "sending"]), pick=st.integers(0, 50),
       value=toml_value)  # fmt: skip
def test_fuzz_one_key_of_a_valid_config(tmp_path, section, pick, value):
    """One key of a working config given any value: refused naming that key (or its
    section), or accepted; never another exception, never a table where a value belongs."""
    import copy

    base = _valid_config(tmp_path)
    keys = sorted(base[section])
    key = keys[pick % len(keys)]
    data = copy.deepcopy(base)
    data[section][key] = value
    path = tmp_path / "clinicast.toml"
    try:
        cfg.from_dict(data, path, env={})
    except ClinicastError as e:
        lines = _every_line_names_the_file(e, path)
        assert any(f"{section}." in line or f"[{section}]" in line for line in lines), lines
    else:
        assert not isinstance(value, dict), f"{section}.{key} = {value!r} was accepted"


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_fuzz_config_load(tmp_path, raw):
    p = tmp_path / "clinicast.toml"
    p.write_bytes(raw)
    try:
        cfg.load(p, env={})
    except ClinicastError as e:
        _every_line_names_the_file(e, p)
    else:
        raise AssertionError(f"{raw!r} was accepted as a config")


@pytest.mark.parametrize(
    "section,key",
    [(s, k) for s in ("email", "gateway") for k in ("path", "ca_file")]
    + [("email", "password_file"), ("email", "dkim_key_file"), ("gateway", "token_file")],
)
def test_a_file_name_holding_a_nul_is_refused_naming_its_key(tmp_path, section, key):
    """Found by the fuzzer above: a NUL in a file name made the secrets' stat() raise a
    ValueError (a traceback) instead of one line naming the key."""
    data = _valid_config(tmp_path)
    data[section][key] = "a\x00b"
    path = tmp_path / "clinicast.toml"
    with pytest.raises(ClinicastError) as e:
        cfg.from_dict(data, path, env={})
    lines = _every_line_names_the_file(e.value, path)
    assert any(f"{section}.{key}: expected a file path without control characters" in line for line in lines), lines

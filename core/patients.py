"""The patient directory: import from the EMR's CSV export, search, look-up (SPEC §4, §9).

Import rules (decisions are marked *):
- Columns are matched through `csvio.norm` against the aliases below (English and
  French). When several columns match one field, the earlier alias wins and the others
  are ignored (e.g. `No dossier` beats a generic `ID`). Unknown columns are ignored and
  reported in `ImportResult.ignored_columns`.
- Every row is validated before anything is written; one bad row refuses the file and
  every problem is listed as `FILE:LINE: column 'X': expected ..., got '...'`.
- Dates are YYYY-MM-DD (a time after the date is dropped, `YYYY/MM/DD` is accepted).
  * DD/MM/YYYY is refused: 03/04/1980 is April 3rd in Québec and March 4th in an
  American export, and a silent guess would mislabel ages.
- Booleans: yes/no, oui/non, true/false, vrai/faux, 1/0, y/n, o/n; empty means no.
- * sex is stored as F, M or X (femme/homme/female/male/other/autre... accepted);
  unknown/inconnu and empty are stored as ''. Language is stored as fr/en.
- * Email addresses are stored lower-cased; postal codes upper-cased (`H2X 1Y4`).
- * A column absent from the file keeps its stored values on update (a file without
  `email` never wipes emails); a column present with an empty cell empties the field.
- Upsert by EMR id in one transaction (BEGIN IMMEDIATE on SQLite): SQLite runs one
  `INSERT ... ON CONFLICT (emr_id) DO UPDATE` per row with `executemany`; PostgreSQL
  COPYs the rows to a temporary table, then one UPDATE ... FROM and one INSERT ...
  SELECT. * Rows whose values did not change are not rewritten: `updated`
  counts patients that changed, `unchanged` the others; `updated_at` is the last
  import that changed the patient, `imported_at` the first one.
- * `search_name` is "last first", lower-case, accent-free, punctuation as spaces
  (`o brien marie eve`): its index answers the usual "type the last name" search;
  when that finds fewer than asked, every typed word is looked for anywhere in it, so
  "first last", "last first" and partial words all find the patient.
- A patient with a pending invitation (joined_at empty) who now has an app account is
  marked joined (`Invitation.joined_at = now`), whatever the invitation's expiry.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import peewee as pw

from . import audit, dates, emr, textcheck
from .csvio import FileProblems, Table, fold, norm, read_table
from .db import is_postgres, write_transaction
from .errors import BadInput, NotFound
from .models import Invitation, Patient, database

# --- columns -------------------------------------------------------------------------

ALIASES: dict[str, tuple[str, ...]] = {
    "emr_id": (
        "emr_id",
        "emr id",
        "emr",
        "emr no",
        "no emr",
        "no dossier",
        "numero de dossier",
        "numero dossier",
        "no de dossier",
        "dossier",
        "dossier patient",
        "chart",
        "chart no",
        "chart number",
        "chart id",
        "mrn",
        "medical record number",
        "patient_id",
        "id patient",
        "no patient",
        "numero patient",
        "patient no",
        "record id",
        "id",
    ),
    "first_name": ("first_name", "firstname", "first", "given name", "prenom", "prenom du patient"),
    "last_name": ("last_name", "lastname", "last", "surname", "family name", "nom", "nom de famille", "nom du patient"),
    "date_of_birth": (
        "date_of_birth",
        "date of birth",
        "birth_date",
        "birthdate",
        "dob",
        "birthday",
        "date de naissance",
        "naissance",
        "ddn",
    ),
    "sex": ("sex", "sexe", "gender", "genre"),
    "language": ("language", "lang", "preferred language", "langue", "langue de communication", "langue preferee"),
    "email": ("email", "e-mail", "email address", "courriel", "adresse courriel", "adresse electronique", "mail"),
    "phone": ("phone", "telephone", "phone number", "tel", "mobile", "cell", "cellulaire", "numero de telephone"),
    "app_id": (
        "app_id",
        "app account",
        "app account id",
        "patient app",
        "app",
        "compte app",
        "compte application",
        "id app",
        "app id",
        "compte patient",
    ),
    "marketing_consent": (
        "marketing_consent",
        "marketing",
        "consent",
        "consentement marketing",
        "consentement",
        "consentement communications",
    ),
    "push_enabled": (
        "push_enabled",
        "push",
        "push notifications",
        "notifications push",
        "notifications",
        "notification push",
    ),
    "do_not_contact": ("do_not_contact", "do not contact", "dnc", "ne pas contacter", "ne pas communiquer"),
    "practitioner": (
        "practitioner",
        "doctor",
        "physician",
        "provider",
        "praticien",
        "praticienne",
        "medecin",
        "md",
        "medecin traitant",
        "medecin de famille",
    ),
    "postal_code": ("postal_code", "postal code", "postcode", "zip", "code postal"),
    "last_visit": (
        "last_visit",
        "last visit",
        "last visit date",
        "derniere visite",
        "date derniere visite",
        "date de derniere visite",
    ),
}
FIELDS = tuple(ALIASES)
_ALIAS_RANK: dict[str, tuple[str, int]] = {}
for _f, _names in ALIASES.items():
    for _rank, _n in enumerate(_names):
        _ALIAS_RANK.setdefault(norm(_n), (_f, _rank))


class _Invalid(Exception):
    """A cell that cannot be used; the argument is what was expected."""


def _text(max_len: int) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if len(v) > max_len:
            raise _Invalid(f"at most {max_len} characters")
        return v

    return parse


TRUE = frozenset({"yes", "oui", "true", "vrai", "1", "y", "o"})
FALSE = frozenset({"no", "non", "false", "faux", "0", "n", ""})
BOOL_EXPECTED = "yes/no, oui/non, true/false, 1/0"


def parse_bool(v: str) -> bool:
    k = v.casefold()
    if k in TRUE:
        return True
    if k in FALSE:
        return False
    raise _Invalid(BOOL_EXPECTED)


def parse_date(v: str) -> date | None:
    try:  # one definition of a day and its range, core.dates (issue #8)
        return dates.parse(v, lenient=True)
    except dates.DateProblem as e:
        raise _Invalid(str(e)) from None


SEXES = {
    "f": "F",
    "female": "F",
    "femme": "F",
    "feminin": "F",
    "w": "F",
    "woman": "F",
    "m": "M",
    "male": "M",
    "homme": "M",
    "h": "M",
    "masculin": "M",
    "man": "M",
    "x": "X",
    "other": "X",
    "autre": "X",
    "non-binaire": "X",
    "non binaire": "X",
    "nonbinary": "X",
    "non-binary": "X",
    "": "",
    "u": "",
    "unknown": "",
    "inconnu": "",
    "nd": "",
    "n/a": "",
}


def parse_sex(v: str) -> str:
    try:
        return SEXES[fold(v)]
    except KeyError:
        raise _Invalid("F, M or X (or femme/homme/autre, female/male/other, or empty)") from None


LANGUAGES = {
    "fr": "fr",
    "francais": "fr",
    "french": "fr",
    "fra": "fr",
    "fre": "fr",
    "en": "en",
    "anglais": "en",
    "english": "en",
    "eng": "en",
    "ang": "en",
    "": "",
}


def parse_language(v: str) -> str:
    try:
        return LANGUAGES[fold(v)]
    except KeyError:
        raise _Invalid("fr or en (or français/anglais, french/english, or empty)") from None


_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+$")


def parse_email(v: str) -> str:
    if not v:
        return ""
    if len(v) > 254 or not _EMAIL.match(v):
        raise _Invalid("one email address like name@example.org")
    return v.lower()


_POSTAL = re.compile(r"([A-Z]\d[A-Z])\s*(\d[A-Z]\d)$")


def parse_postal(v: str) -> str:
    v = " ".join(v.upper().split())
    m = _POSTAL.match(v)
    if m:
        return f"{m[1]} {m[2]}"
    if len(v) > 16:
        raise _Invalid("a postal code (at most 16 characters)")
    return v


def parse_emr(v: str) -> str:
    if not v:
        raise _Invalid("an EMR id (required)")
    if len(v) > 64:
        raise _Invalid("an EMR id of at most 64 characters")
    return v


def parse_app_id(v: str) -> str | None:
    if len(v) > 64:
        raise _Invalid("an app account id of at most 64 characters")
    return v or None


PARSERS: dict[str, Callable[[str], object]] = {
    "emr_id": parse_emr,
    "first_name": _text(120),
    "last_name": _text(120),
    "date_of_birth": parse_date,
    "sex": parse_sex,
    "language": parse_language,
    "email": parse_email,
    "phone": _text(40),
    "app_id": parse_app_id,
    "marketing_consent": parse_bool,
    "push_enabled": parse_bool,
    "do_not_contact": parse_bool,
    "practitioner": _text(120),
    "postal_code": parse_postal,
    "last_visit": parse_date,
}
DATE_FIELDS = ("date_of_birth", "last_visit")


_NON_WORD = re.compile(r"[\W_]+")


def name_key(*parts: str) -> str:
    """Lower-case, accent-free words separated by one space: the form of `search_name`
    (`name_key("Côté", "Marie-Ève")` -> `cote marie eve`)."""
    return " ".join(_NON_WORD.sub(" ", fold(" ".join(parts))).split())


def _name_keys(pairs) -> list[str]:
    """name_key(last, first) for many pairs; each distinct name is folded once."""
    memo: dict[str, str] = {}
    out = []
    for last, first in pairs:
        a = memo.get(last)
        if a is None:
            a = memo[last] = name_key(last)
        b = memo.get(first)
        if b is None:
            b = memo[first] = name_key(first)
        out.append(f"{a} {b}" if a and b else a or b)
    return out


# --- import --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    total: int
    joined: int = 0
    unchanged: int = 0
    kept_opted_out: int = 0  # rows saying "contact them" for a patient who opted out (SPEC §10)
    ignored_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> column as written
    encoding: str = ""
    delimiter: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def map_columns(table: Table) -> tuple[dict[str, str], list[str]]:
    """({field: normalised column}, [ignored columns as written]) for a table."""
    best: dict[str, tuple[int, str]] = {}
    for key in table.columns:
        hit = _ALIAS_RANK.get(key)
        if hit and (hit[0] not in best or hit[1] < best[hit[0]][0]):
            best[hit[0]] = (hit[1], key)
    used = {key for _, key in best.values()}
    ignored = [table.columns[k] for k in table.columns if k not in used]
    return {f: best[f][1] for f in FIELDS if f in best}, ignored


def _quote(v: str) -> str:
    return "'" + textcheck.visible(v, 80) + "'"


class _Bad:
    """A cell that failed to parse (kept in the column so positions stay aligned)."""

    __slots__ = ("expected",)

    def __init__(self, expected: str):
        self.expected = expected


_TEXT_LIMITS = {"first_name": 120, "last_name": 120, "phone": 40, "practitioner": 120}


def _convert(field_name: str, col: list[str]) -> tuple[list, bool]:
    """(typed values, any bad?) for one column; bad cells hold a _Bad. Each distinct
    value is parsed once (booleans, dates, codes repeat a lot); plain text columns
    within their length limit are taken as they are."""
    limit = _TEXT_LIMITS.get(field_name)
    if limit is not None and max(map(len, col), default=0) <= limit:
        return col, False
    if field_name == "emr_id" and all(col) and max(map(len, col), default=0) <= 64:
        return col, False
    parse = PARSERS[field_name]
    cache: dict[str, object] = {}
    bad = False
    for v in set(col):
        try:
            cache[v] = parse(v)
        except _Invalid as e:
            cache[v] = _Bad(e.args[0])
            bad = True
    return list(map(cache.__getitem__, col)), bad


@dataclass
class Directory:
    """A validated directory file: typed values column by column."""

    table: Table
    columns: dict[str, list]  # field -> typed values in row order (the file's fields, emr_id first)
    names: dict[str, str]  # field -> its column as written in the file
    ignored_columns: list[str]

    @property
    def fields(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.table.rows)


def read_patients(path: os.PathLike | str, today: date | None = None) -> Directory:
    """Read and validate a directory file without touching the database (dates of
    birth after `today` are refused when it is given). Raises FileProblems listing every bad row (the message: a
    summary line, then one `FILE:LINE: column 'X': expected ..., got '...'` line each),
    BadInput for an unusable file (unreadable, empty, no EMR id column)."""
    table = read_table(path)
    mapping, ignored = map_columns(table)
    if "emr_id" not in mapping:
        expected = ", ".join(ALIASES["emr_id"][:8])
        raise BadInput(
            f"{table.name}:{table.header_line}: no EMR id column (expected one named like "
            f"{expected}...); found: {', '.join(table.header)}"
        )
    fields = list(mapping)
    rows = table.rows
    lines = [r.line for r in rows]
    problems: dict[int, list[tuple[int, str]]] = {b.line: [(-1, b.message)] for b in table.bad_rows}
    position = {k: n for n, k in enumerate(table.columns)}

    def problem(i: int, label: str, text: str) -> None:
        pos = position[norm(label)]
        problems.setdefault(lines[i], []).append((pos, f"column {_quote(label)}: {text}"))

    columns: dict[str, list] = {}
    position_of = {k: n for n, k in enumerate(rows[0].keys)} if rows else {}
    transposed = list(zip(*[r.fields for r in rows], strict=False)) if rows else []
    for f in fields:
        key = mapping[f]
        raw = list(transposed[position_of[key]]) if rows else []
        typed, bad = _convert(f, raw)
        label = table.columns[key]
        if bad:
            for i, v in enumerate(typed):
                if v.__class__ is _Bad:
                    got = _quote(raw[i]) if raw[i] else "an empty value"
                    problem(i, label, f"expected {v.expected}, got {got}")
        if not " ".join(raw).isprintable():  # a line break, tab, NUL... somewhere (issue #8)
            for i, v in enumerate(raw):
                c = textcheck.first_control(v)
                if c is not None and typed[i].__class__ is not _Bad:
                    problem(
                        i,
                        label,
                        f"expected text without control characters (line breaks, tabs, NUL, "
                        f"zero-width or direction marks), got {textcheck.describe(c)} in {_quote(v)}",
                    )
        columns[f] = typed

    # EMR ids are compared by their key (core.emr): `1` and `00001` are one patient
    emrs = columns["emr_id"]
    keys = [emr.key(e) if e.__class__ is str else None for e in emrs]
    if len(set(keys)) != len(keys):
        seen: dict[str, int] = {}
        label = table.columns[mapping["emr_id"]]
        for i, k in enumerate(keys):
            if k is not None:
                first = seen.setdefault(k, i)
                if first != i:
                    same = "" if emrs[i] == emrs[first] else f" (the same id as {_quote(emrs[first])})"
                    problem(i, label, f"duplicate EMR id {_quote(emrs[i])}{same}, already on line {lines[first]}")
    dobs = columns.get("date_of_birth")
    if today and dobs and max((d for d in set(dobs) if d.__class__ is date), default=today) > today:
        key = mapping["date_of_birth"]
        for i, d in enumerate(dobs):
            if d.__class__ is date and d > today:
                problem(
                    i,
                    table.columns[key],
                    f"expected a date of birth not after today, got {_quote(rows[i].values[key])}",
                )
    if not rows and not problems:
        raise BadInput(
            f"{table.where(table.header_line)}: only a header row, no patient; nothing imported "
            "(expected one row per patient after the header)"
        )
    if problems:
        bad_lines = sorted(problems)
        n = len(bad_lines)
        summary = f"{table.name}: {n} bad row{'s' if n != 1 else ''}, nothing imported"
        raise FileProblems(
            summary,
            [
                f"{table.where(line)}: {msg}"
                for line in bad_lines
                for _, msg in sorted(problems[line], key=lambda p: p[0])
            ],
        )
    return Directory(table, columns, {f: table.columns[k] for f, k in mapping.items()}, ignored)


CHUNK = 5000


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector: reading 100,000 rows allocates millions of
    acyclic objects, and its passes over them cost a third of the import."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def import_csv(ctx, path: os.PathLike | str) -> ImportResult:
    """Upsert the patient directory from an EMR export (admin). All or nothing:
    FileProblems (a BadInput) lists every bad row and nothing is written."""
    ctx.require("admin")
    with _gc_paused():
        return _import(ctx, path)


def _import(ctx, path: os.PathLike | str) -> ImportResult:
    now = ctx.now()
    directory = read_patients(path, ctx.today())
    table, fields, ignored, n = directory.table, directory.fields, directory.ignored_columns, len(directory)
    pg = is_postgres()

    with_name = "first_name" in fields and "last_name" in fields
    fix_names = ("first_name" in fields) != ("last_name" in fields)
    # every column is inserted (peewee's defaults live in Python, not in the table);
    # only the file's columns are updated
    cols = list(FIELDS) + ["search_name", "emr_key", "imported_at", "updated_at"]
    params = _params(directory.columns, n, now, pg)
    # an id matches a stored one by its key (`00001` updates patient `1`), and takes the
    # file's spelling
    data_cols = ["emr_id", *fields[1:]] + (["search_name"] if with_name else [])
    t = Patient._meta.table_name

    with write_transaction():
        before = Patient.select().count()
        changed = _upsert(t, cols, data_cols, params, pg)
        inserted = Patient.select().count() - before
        if fix_names:
            changed_names = _refresh_search_names(directory.columns["emr_id"])
            changed = max(changed, changed_names)
        joined = 0
        if "app_id" in fields:
            joined = (
                Invitation.update(joined_at=now)
                .where(
                    Invitation.joined_at.is_null(),
                    Invitation.patient.in_(Patient.select(Patient.id).where(Patient.app_id.is_null(False))),
                )
                .execute()
            )
        updated = changed - inserted
        kept = _kept_opted_out(directory)
        result = ImportResult(
            kept_opted_out=kept,
            inserted=inserted,
            updated=updated,
            total=n,
            joined=joined,
            unchanged=n - inserted - updated,
            ignored_columns=ignored,
            columns=directory.names,
            encoding=table.encoding,
            delimiter=table.delimiter,
        )
        audit.record(
            ctx,
            "import",
            file=str(Path(path).resolve()),
            inserted=inserted,
            updated=updated,
            unchanged=result.unchanged,
            total=n,
            joined=joined,
            ignored_columns=ignored,
            kept_opted_out=kept,
        )
    return result


def _kept_opted_out(directory: Directory) -> int:
    from .optouts import kept_by_import

    consent, dnc = directory.columns.get("marketing_consent"), directory.columns.get("do_not_contact")
    if consent is None and dnc is None:
        return 0
    n = len(directory)
    consent_yes = [consent is not None and consent[i] is True for i in range(n)]
    contact_yes = [dnc is not None and dnc[i] is False for i in range(n)]
    return kept_by_import(directory.columns["emr_id"], consent_yes, contact_yes)


def _upsert(t: str, cols: list[str], data_cols: list[str], params: list[tuple], pg: bool) -> int:
    """INSERT ... ON CONFLICT (emr_id) DO UPDATE the rows whose values differ; the
    number of rows inserted or changed. PostgreSQL: COPY into a temporary table, then
    one INSERT ... SELECT. SQLite: executemany of the same statement, in chunks."""
    collist = ", ".join(cols)
    conflict = "ON CONFLICT (emr_key) "
    if data_cols:
        distinct = "IS DISTINCT FROM" if pg else "IS NOT"
        sets = ", ".join(f"{c} = excluded.{c}" for c in data_cols + ["updated_at"])
        old = ", ".join(f"{t}.{c}" for c in data_cols)
        new = ", ".join(f"excluded.{c}" for c in data_cols)
        conflict += f"DO UPDATE SET {sets} WHERE ({old}) {distinct} ({new})"
    else:
        conflict += "DO NOTHING"
    cursor = database.cursor()
    if pg:
        # COPY to a temporary table; then one set-based UPDATE (a hash join, much faster
        # than 100,000 conflict checks) and an INSERT of the new EMR ids. The INSERT keeps
        # its ON CONFLICT for an import of the same ids committed meanwhile.
        cursor.execute(
            f"CREATE TEMPORARY TABLE clinicast_import ON COMMIT DROP AS SELECT {collist} FROM {t} WITH NO DATA"
        )
        with cursor.copy(f"COPY clinicast_import ({collist}) FROM STDIN") as copy:
            for r in params:
                copy.write_row(r)
        changed = 0
        if data_cols:
            sets = ", ".join(f"{c} = i.{c}" for c in data_cols + ["updated_at"])
            old = ", ".join(f"p.{c}" for c in data_cols)
            new = ", ".join(f"i.{c}" for c in data_cols)
            cursor.execute(
                f"UPDATE {t} AS p SET {sets} FROM clinicast_import AS i "
                f"WHERE p.emr_key = i.emr_key AND ({old}) IS DISTINCT FROM ({new})"
            )
            changed = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {t} ({collist}) SELECT {collist} FROM clinicast_import AS i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS p WHERE p.emr_key = i.emr_key) {conflict}"
        )
        changed += cursor.rowcount
        cursor.execute("DROP TABLE clinicast_import")
        return changed
    # SQLite: `INSERT ... SELECT ... ON CONFLICT` needs a WHERE to parse; VALUES is simpler
    sql = f"INSERT INTO {t} ({collist}) VALUES ({', '.join(['?'] * len(cols))}) {conflict}"
    changed = 0
    for i in range(0, len(params), CHUNK):
        cursor.executemany(sql, params[i : i + CHUNK])
        changed += max(cursor.rowcount, 0)
    return changed


def _params(columns: dict[str, list], n: int, now: datetime, pg: bool) -> list[tuple]:
    """One tuple a row in the order FIELDS + search_name, emr_key, imported_at, updated_at:
    the file's values, the model's defaults for the columns the file lacks."""
    out = []
    for f in FIELDS:
        col = columns.get(f)
        if col is None:
            col = [Patient._meta.fields[f].default] * n
        elif f in DATE_FIELDS and not pg:  # SQLite keeps dates as ISO text, as peewee writes them
            iso = {d: d.isoformat() for d in set(col) if d is not None}
            col = list(map(iso.get, col))
        out.append(col)
    out.append(_name_keys(zip(out[FIELDS.index("last_name")], out[FIELDS.index("first_name")], strict=False)))
    out.append([emr.key(e) for e in out[FIELDS.index("emr_id")]])
    stamp = now if pg else str(now)
    out.append([stamp] * n)
    out.append(out[-1])
    return list(zip(*out, strict=False))


def _refresh_search_names(emr_ids: list[str]) -> int:
    """After an import carrying only one of the two name columns: recompute search_name
    from the stored names; the number of patients whose search_name changed."""
    t = Patient._meta.table_name
    p = database.param
    updates = []
    for i in range(0, len(emr_ids), 900):
        q = (
            Patient.select(Patient.id, Patient.first_name, Patient.last_name, Patient.search_name)
            .where(Patient.emr_id.in_(emr_ids[i : i + 900]))
            .tuples()
        )
        for pid, first, last, old in q:
            new = name_key(last, first)
            if new != old:
                updates.append((new, pid))
    if updates:
        database.cursor().executemany(f"UPDATE {t} SET search_name = {p} WHERE id = {p}", updates)
    return len(updates)


# --- look-up -------------------------------------------------------------------------


def get_by_emr(emr_id: str) -> Patient:
    p = Patient.get_or_none(Patient.emr_key == emr.key(emr_id))
    if p is None:
        raise NotFound(f"no patient with EMR id {emr_id.strip()!r}")
    return p


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASHED = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def _dates_in(text: str) -> list[date]:
    """Dates a typed birth date may mean: YYYY-MM-DD, or DD/MM/YYYY *and* MM/DD/YYYY
    (search only reads, so an ambiguous date shows both candidates)."""
    found = []
    m = _ISO.match(text)
    if m:
        found.append((int(m[1]), int(m[2]), int(m[3])))
    m = _SLASHED.match(text)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        found += [(y, b, a), (y, a, b)]
    out = []
    for y, mo, d in found:
        try:
            out.append(date(y, mo, d))
        except ValueError:
            pass
    return sorted(set(out))


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column, pattern: str):
    """`column LIKE pattern ESCAPE '\\'`, case-sensitive on PostgreSQL (callers pass
    lower-case text for lower-case columns); peewee's OP.LIKE would be GLOB on SQLite,
    whose LIKE is ASCII-case-insensitive."""
    op = pw.OP.LIKE if is_postgres() else pw.OP.ILIKE
    return pw.Expression(
        column, op, pw.NodeList((pw.Value(pattern, converter=False), pw.SQL("ESCAPE"), pw.Value("\\", converter=False)))
    )


def _prefix(column, prefix: str):
    """Rows whose `column` starts with `prefix`, answered from the column's index: a
    range on the index, and LIKE to be exact whatever the collation."""
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    return (column >= prefix) & (column < upper) & _like(column, _like_escape(prefix) + "%")


def search(ctx, text: str, limit: int = 20) -> list[Patient]:
    """Patients matching what was typed, best first (SPEC §4 "found by name, EMR id,
    date of birth or email as you type"):
    - a date (YYYY-MM-DD; DD/MM/YYYY and MM/DD/YYYY both tried) finds birth dates;
    - else, from the indexes: the exact EMR id, EMR ids starting with the text, names
      starting with it in "last first" order, emails starting with it;
    - if that gives fewer than `limit`: names holding every typed word anywhere, in any
      order ("marie trem", "tremblay marie", "emilie cote" for Émilie Côté).
    """
    ctx.require("campaigns")
    text = " ".join(text.split())
    if not text or limit <= 0:
        return []
    order = (Patient.last_name, Patient.first_name, Patient.id)
    dates = _dates_in(text)
    if dates:
        return list(Patient.select().where(Patient.date_of_birth.in_(dates)).order_by(*order).limit(limit))

    found: dict[int, Patient] = {}

    def take(query) -> bool:
        for p in query.limit(limit):
            if len(found) >= limit:
                break
            found.setdefault(p.id, p)
        return len(found) >= limit

    key = name_key(text)
    words = key.split()
    steps = [Patient.select().where(Patient.emr_id == text)]
    if " " not in text:
        steps.append(Patient.select().where(_prefix(Patient.emr_id, text)).order_by(Patient.emr_id))
    if key:
        steps.append(
            Patient.select().where(_prefix(Patient.search_name, key)).order_by(Patient.search_name, Patient.id)
        )
    if " " not in text and ("@" in text or "." in text):
        steps.append(Patient.select().where(_prefix(Patient.email, text.lower())).order_by(Patient.email))
    for q in steps:
        if take(q):
            return list(found.values())
    if words and "@" not in text and any(ch.isalpha() for ch in key):
        cond = None
        for w in words:
            e = _like(Patient.search_name, "%" + _like_escape(w) + "%")
            cond = e if cond is None else cond & e
        if found:
            cond &= Patient.id.not_in(list(found))
        take(Patient.select().where(cond).order_by(*order))
    return list(found.values())

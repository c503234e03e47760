"""core.patients: directory import (SPEC §9) and search (SPEC §4), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from core import context, fakedata
from core.config.types import User
from core.csvio import FileProblems
from core.errors import BadInput, NotFound, PermissionDenied
from core.models import AuditLog, Campaign, Delivery, Invitation, Patient, Recipient
from core.patients import cells, lookup, upsert

NOW = datetime(2025, 6, 2, 15, 0)  # naive UTC, 11:00 in Montréal


@pytest.fixture
def ctx(config, db):
    return context.for_current_user(config, clock=lambda: NOW)


def write(tmp_path, text: str, name="patients.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def snapshot():
    return [tuple(r) for r in Patient.select().order_by(Patient.emr_id).tuples()]


HEADER = (
    "emr_id,first_name,last_name,date_of_birth,sex,language,email,phone,app_id,"
    "marketing_consent,push_enabled,do_not_contact,practitioner,postal_code,last_visit\n"
)


class TestImport:
    def test_every_field(self, ctx, tmp_path):
        p = write(
            tmp_path,
            HEADER + "A1,Émilie,Côté,1980-03-04,femme,Français,Emilie.Cote@Example.org,514-555-0101,app-1,"
            "oui,yes,non,Dre Lévesque,h2x1y4,2025-01-15 10:30:00\n"
            "A2,John,O'Brien,2025-06-02,M,en,,,,,0,1,,,\n",
        )
        r = upsert.import_csv(ctx, p)
        assert (r.inserted, r.updated, r.unchanged, r.total) == (2, 0, 0, 2)
        assert r.ignored_columns == []
        a = lookup.get_by_emr("A1")
        assert (a.first_name, a.last_name, a.date_of_birth, a.sex, a.language) == (
            "Émilie",
            "Côté",
            date(1980, 3, 4),
            "F",
            "fr",
        )
        assert (a.email, a.phone, a.app_id, a.postal_code, a.last_visit) == (
            "emilie.cote@example.org",
            "514-555-0101",
            "app-1",
            "H2X 1Y4",
            date(2025, 1, 15),
        )
        assert (a.marketing_consent, a.push_enabled, a.do_not_contact) == (True, True, False)
        assert a.practitioner == "Dre Lévesque"
        assert a.search_name == "cote emilie"
        b = lookup.get_by_emr("A2")
        assert (b.app_id, b.email, b.language, b.last_visit, b.marketing_consent, b.do_not_contact) == (
            None,
            "",
            "en",
            None,
            False,
            True,
        )
        assert b.search_name == "o brien john"

    def test_french_headers_cp1252_semicolons(self, ctx, tmp_path):
        text = (
            "N° dossier;Prénom;Nom de famille;Date de naissance;Sexe;Langue;Adresse courriel;"
            "Téléphone;Compte app;Consentement marketing;Notifications push;Ne pas contacter;"
            "Médecin;Code postal;Dernière visite\r\n"
            "1001;Hélène;Bélanger;1950-12-31;F;fr;helene@example.org;450-555-1234;;Oui;Non;Non;"
            "Dr Gagnon;J4K 2B3;2024-11-30\r\n"
        )
        r = upsert.import_csv(ctx, write(tmp_path, text, encoding="cp1252"))
        assert (r.inserted, r.encoding, r.delimiter) == (1, "cp1252", ";")
        assert r.columns["emr_id"] == "N° dossier" and r.columns["app_id"] == "Compte app"
        h = lookup.get_by_emr("1001")
        assert (h.first_name, h.last_name, h.marketing_consent, h.push_enabled) == ("Hélène", "Bélanger", True, False)
        assert (h.practitioner, h.last_visit) == ("Dr Gagnon", date(2024, 11, 30))

    def test_tabs_bom_blank_lines_and_excel_quoting(self, ctx, tmp_path):
        text = (
            "\ufeffid\tprenom\tnom\tnote\tcourriel\r\n\r\n"
            '1\tLéa\tRoy\t"a note\r\non two lines\twith a tab"\tlea@example.org\r\n'
            "\r\n"
            "2\tLuc\tRoy\tx\t\r\n"
        )
        r = upsert.import_csv(ctx, write(tmp_path, text))
        assert (r.inserted, r.ignored_columns) == (2, ["note"])
        assert lookup.get_by_emr("1").email == "lea@example.org"

    def test_generated_directory_round_trip(self, ctx, tmp_path):
        rows = fakedata.generate(300, seed=7, today=date(2025, 6, 1))
        p = tmp_path / "fr.csv"
        fakedata.write_csv(p, rows, encoding="cp1252", delimiter=";", french_headers=True)
        r = upsert.import_csv(ctx, p)
        assert (r.inserted, r.total) == (300, 300)
        stored = {p.emr_id: p for p in Patient.select()}
        for row in rows:
            s = stored[row["emr_id"]]
            for f in fakedata.FIELDS:
                assert getattr(s, f) == row[f], (row["emr_id"], f)
        r = upsert.import_csv(ctx, p)
        assert (r.inserted, r.updated, r.unchanged) == (0, 0, 300)

    def test_upsert_updates_changed_rows_only(self, ctx, tmp_path):
        upsert.import_csv(
            ctx,
            write(
                tmp_path, "emr_id,first_name,last_name,email\n1,Léa,Roy,lea@example.org\n2,Luc,Roy,luc@example.org\n"
            ),
        )
        before = Patient.get(Patient.emr_id == "2").updated_at
        later = context.for_current_user(ctx.config, clock=lambda: NOW + timedelta(hours=1))
        r = upsert.import_csv(
            later,
            write(
                tmp_path,
                "emr_id,first_name,last_name,email\n"
                "1,Léa,Roy-Côté,lea@example.org\n"
                "2,Luc,Roy,luc@example.org\n3,Zoé,Roy,\n",
            ),
        )
        assert (r.inserted, r.updated, r.unchanged, r.total) == (1, 1, 1, 3)
        one = lookup.get_by_emr("1")
        assert (one.last_name, one.search_name, one.updated_at) == (
            "Roy-Côté",
            "roy cote lea",
            NOW + timedelta(hours=1),
        )
        two = lookup.get_by_emr("2")
        assert two.updated_at == before == NOW and two.imported_at == NOW
        assert Patient.select().count() == 3

    def test_absent_columns_keep_their_values_empty_cells_empty_them(self, ctx, tmp_path):
        upsert.import_csv(
            ctx,
            write(
                tmp_path,
                "emr_id,first_name,last_name,email,phone,app_id\n1,Léa,Roy,lea@example.org,514-555-0000,app-9\n",
            ),
        )
        r = upsert.import_csv(ctx, write(tmp_path, "emr_id,last_name,phone\n1,Gagnon,\n"))
        assert (r.updated, r.inserted) == (1, 0)
        p = lookup.get_by_emr("1")
        assert (p.first_name, p.last_name, p.email, p.app_id, p.phone) == (
            "Léa",
            "Gagnon",
            "lea@example.org",
            "app-9",
            "",
        )
        assert p.search_name == "gagnon lea"  # recomputed from the stored first name

    def test_aliases_and_ignored_columns(self, ctx, tmp_path):
        r = upsert.import_csv(ctx, write(tmp_path, "No dossier,Nom,Allergies,Couleur préférée\nA-1,Roy,none,blue\n"))
        assert r.columns["emr_id"] == "No dossier"
        assert r.ignored_columns == ["Allergies", "Couleur préférée"]
        assert lookup.get_by_emr("A-1").last_name == "Roy"

    def test_a_generic_id_beside_a_named_emr_id_is_left_out(self, ctx, tmp_path):
        """An export's `ID` (often the record system's row number) beside `No dossier`: the
        named column is the EMR id, whichever comes first; `ID` is listed as left out."""
        for header, row in (("ID,No dossier,Nom", "77,A-1,Roy"), ("No dossier,Nom,ID", "A-2,Roy,78")):
            r = upsert.import_csv(ctx, write(tmp_path, f"{header}\n{row}\n"))
            assert r.columns["emr_id"] == "No dossier" and r.ignored_columns == ["ID"], header
        assert {p.emr_id for p in Patient.select()} == {"A-1", "A-2"}

    @pytest.mark.parametrize(
        "header,said",
        [
            ("emr_id,Prénom,first_name", "columns 2 “Prénom” and 3 “first_name” both mean first_name"),
            ("Dossier,No dossier,Nom", "columns 1 “Dossier” and 2 “No dossier” both mean emr_id"),
            ("emr_id;Courriel;Nom;E-mail", "columns 2 “Courriel” and 4 “E-mail” both mean email"),
        ],
    )
    def test_two_columns_meaning_one_field_refuse_the_file(self, ctx, tmp_path, header, said):
        # which of the two holds the patients' names (or ids) is never guessed
        delimiter = ";" if ";" in header else ","
        row = delimiter.join(["1", "Ana", "Anne", "x"][: header.count(delimiter) + 1])
        with pytest.raises(BadInput, match=rf"patients\.csv:1: {said}; rename or remove one$"):
            upsert.import_csv(ctx, write(tmp_path, f"{header}\n{row}\n"))
        assert Patient.select().count() == 0

    def test_header_only(self, ctx, tmp_path):
        # issue #8: a header-only file is refused with its line, not "imported 0"
        with pytest.raises(BadInput, match=r"patients\.csv:1: only a header row, no patient; nothing imported"):
            upsert.import_csv(ctx, write(tmp_path, "emr_id;email\r\n\r\n"))

    def test_audit_row(self, ctx, tmp_path):
        p = write(tmp_path, "emr_id\n1\n2\n")
        upsert.import_csv(ctx, p)
        a = AuditLog.get(AuditLog.action == "import")
        d = json.loads(a.detail)
        assert a.user == ctx.user.login and a.at == NOW
        assert (d["inserted"], d["updated"], d["total"], d["file"]) == (2, 0, 2, str(p.resolve()))

    def test_admin_only(self, ctx, tmp_path):
        staff = context.Ctx(ctx.config, User(ctx.user.login, "Staff", frozenset({"campaigns"})), ctx.clock)
        with pytest.raises(PermissionDenied, match="'admin'"):
            upsert.import_csv(staff, write(tmp_path, "emr_id\n1\n"))
        assert Patient.select().count() == 0

    def test_joined_funnel(self, ctx, tmp_path):
        upsert.import_csv(ctx, write(tmp_path, "emr_id,email,app_id\n1,a@example.org,\n2,b@example.org,\n"))
        camp = Campaign.create(kind="invitation", name="Join", created_by="t")
        for emr in ("1", "2"):
            pat = lookup.get_by_emr(emr)
            rec = Recipient.create(campaign=camp, patient=pat)
            d = Delivery.create(kind="email", campaign=camp, recipient=rec)
            Invitation.create(
                recipient=rec,
                patient=pat,
                campaign=camp,
                delivery=d,
                code=f"C{emr}",
                token=f"t{emr}",
                url="https://x",
                expires_at=NOW + timedelta(days=14),
            )
        r = upsert.import_csv(ctx, write(tmp_path, "emr_id,app_id\n1,app-1\n2,\n"))
        assert r.joined == 1
        joined = {i.patient.emr_id: i.joined_at for i in Invitation.select()}
        assert joined == {"1": NOW, "2": None}
        again = context.for_current_user(ctx.config, clock=lambda: NOW + timedelta(days=1))
        assert upsert.import_csv(again, write(tmp_path, "emr_id,app_id\n1,app-1\n")).joined == 0
        assert Invitation.get(Invitation.code == "C1").joined_at == NOW


class TestRefused:
    def test_every_bad_row_listed_and_nothing_imported(self, ctx, tmp_path):
        upsert.import_csv(ctx, write(tmp_path, "emr_id,first_name,email\n1,Léa,lea@example.org\n"))
        before = snapshot()
        text = (
            "No dossier;Prénom;Date de naissance;Courriel;Consentement marketing;Langue;Notes\n"
            '1;Léa;1990-01-01;lea2@example.org;oui;fr;"ok; on\ntwo lines"\n'  # 2-3: fine
            ";Sans;1990-01-01;;non;fr;\n"  # 4: no id
            "5;Luc;04/03/1980;luc@;peut-être;es;\n"  # 5: 4 problems
            "6;Zoé;1990-02-30;zoe@example.org;1;en;\n"  # 6: bad date
            "\n"
            "1;Double;1990-01-01;;0;fr;\n"  # 8: duplicate
            "9;Trop;court\n"  # 9: ragged
            "10;Futur;2030-01-01;;0;fr;\n"
        )  # 10: future dob
        p = write(tmp_path, text, name="export.csv")
        with pytest.raises(FileProblems) as e:
            upsert.import_csv(ctx, p)
        lines = str(e.value).splitlines()
        f = str(p)
        assert lines == [
            f"{f}: 6 bad rows, nothing imported",
            f"{f}:4: column “No dossier”: expected an EMR id (required), got an empty value",
            f"{f}:5: column “Date de naissance”: expected a date YYYY-MM-DD (day/month order is ambiguous, "
            "export ISO dates), got “04/03/1980”",
            f"{f}:5: column “Courriel”: expected one email address like name@example.org, got “luc@”",
            f"{f}:5: column “Consentement marketing”: expected yes/no, oui/non, true/false, 1/0, got “peut-être”",
            f"{f}:5: column “Langue”: expected fr or en (or français/anglais, french/english, or empty), got “es”",
            f"{f}:6: column “Date de naissance”: expected a real date YYYY-MM-DD, got “1990-02-30”",
            f"{f}:8: column “No dossier”: duplicate EMR id “1”, already on line 2",
            f"{f}:9: expected 7 fields like the header, got 3 (is a semicolon or a quote unbalanced?)",
            f"{f}:10: column “Date de naissance”: expected a date of birth not after today, got “2030-01-01”",
        ]
        assert e.value.exit_code == 2
        assert snapshot() == before
        assert AuditLog.select().where(AuditLog.action == "import").count() == 1

    def test_bad_boolean_sex_and_too_long(self, ctx, tmp_path):
        p = write(tmp_path, "emr_id,sex,push_enabled,last_name\n1,Q,maybe," + "x" * 121 + "\n")
        with pytest.raises(FileProblems) as e:
            upsert.import_csv(ctx, p)
        assert e.value.summary == f"{p}: 1 bad row, nothing imported"
        assert [m.split(": ", 2)[1] for m in e.value.problems] == [
            "column “sex”",
            "column “push_enabled”",
            "column “last_name”",
        ]
        assert "expected at most 120 characters" in e.value.problems[2]
        assert Patient.select().count() == 0

    def test_no_emr_id_column(self, ctx, tmp_path):
        p = write(tmp_path, "prenom,nom\nLéa,Roy\n")
        with pytest.raises(
            BadInput,
            match=r"patients\.csv:1: no EMR id column \(expected one named like "
            r"emr_id, .*\); found: prenom, nom",
        ):
            upsert.import_csv(ctx, p)

    def test_empty_file(self, ctx, tmp_path):
        with pytest.raises(BadInput, match="the file is empty"):
            upsert.import_csv(ctx, write(tmp_path, ""))


class TestParsers:
    @pytest.mark.parametrize(
        "v,expected",
        [
            ("yes", True),
            ("Oui", True),
            ("TRUE", True),
            ("vrai", True),
            ("1", True),
            ("y", True),
            ("o", True),
            ("no", False),
            ("NON", False),
            ("false", False),
            ("faux", False),
            ("0", False),
            ("n", False),
            ("", False),
        ],
    )
    def test_booleans(self, v, expected):
        assert cells.parse_bool(v) is expected

    def test_dates(self):
        assert cells.parse_date("2024-02-29") == date(2024, 2, 29)
        assert cells.parse_date("2024/02/29") == date(2024, 2, 29)
        assert cells.parse_date("2024-02-29T08:00") == date(2024, 2, 29)
        assert cells.parse_date("") is None
        for bad in ("2023-02-29", "29/02/2024", "2024-2-9", "yesterday"):
            with pytest.raises(cells._Invalid):
                cells.parse_date(bad)

    def test_name_key(self):
        assert cells.name_key("Côté", "Marie-Ève") == "cote marie eve"
        assert cells.name_key("  O'BRIEN ", "") == "o brien"


@pytest.fixture
def directory(ctx, tmp_path):
    text = HEADER + "".join(
        f"{emr},{first},{last},{dob},,,{email},,,,,,,,\n"
        for emr, first, last, dob, email in [
            ("100001", "Émilie", "Côté", "1980-03-04", "emilie@example.org"),
            ("100002", "Marie-Ève", "Tremblay", "1980-04-03", "me.tremblay@example.org"),
            ("100010", "Jean", "Tremblay", "1975-07-14", "jt_1@example.com"),
            ("200001", "Tremblay", "Martin", "2001-01-01", ""),
            ("10000", "Luc", "Gagné", "1990-10-10", "luc@example.net"),
        ]
    )
    upsert.import_csv(ctx, write(tmp_path, text))


class TestSearch:
    @pytest.fixture(autouse=True)
    def _ctx(self, ctx):
        self.ctx = ctx

    def emrs(self, text, **kw):
        return [p.emr_id for p in lookup.search(self.ctx, text, **kw)]

    def test_reads_of_the_directory_need_the_campaigns_permission(self, directory):
        """SPEC §6: the check lives in the core, for reads too (search, live count, templates)."""
        from dataclasses import replace

        from core import campaigns, conditions
        from core.errors import PermissionDenied

        c = campaigns.create(self.ctx, "invitation", "Reads")
        nobody = replace(self.ctx, user=replace(self.ctx.user, permissions=frozenset()))
        for read in (
            lambda: lookup.search(nobody, "cote"),
            lambda: conditions.count(nobody, [conditions.parse("age >= 18")]),
            lambda: campaigns.get_templates(nobody, c.id),
        ):
            with pytest.raises(PermissionDenied, match="lacks the 'campaigns' permission"):
                read()
        assert self.emrs("cote") == ["100001"]

    def test_names_any_order_accents_partial(self, directory):
        assert self.emrs("cote") == ["100001"]
        assert self.emrs("Émilie CÔTÉ") == ["100001"]
        assert self.emrs("cote emilie") == ["100001"]
        assert self.emrs("marie eve") == ["100002"]
        assert self.emrs("trem marie") == ["100002"]
        assert self.emrs("trem mar") == ["200001", "100002"]  # Martin Tremblay too
        # last-name prefix matches first (index), then names holding the word elsewhere
        assert self.emrs("tremblay") == ["100010", "100002", "200001"]
        assert self.emrs("tremblay", limit=2) == ["100010", "100002"]

    def test_emr_id_exact_first_then_prefix(self, directory):
        assert self.emrs("10000") == ["10000", "100001", "100002"]
        assert self.emrs("1000", limit=2) == ["10000", "100001"]
        assert self.emrs("100010") == ["100010"]

    def test_birth_date(self, directory):
        assert self.emrs("1975-07-14") == ["100010"]
        assert self.emrs("04/03/1980") == ["100001", "100002"]  # both day/month readings
        assert self.emrs("14/07/1975") == ["100010"]

    def test_email_prefix_wildcards_are_literal(self, directory):
        assert self.emrs("me.trem") == ["100002"]
        assert self.emrs("JT_1@") == ["100010"]
        assert self.emrs("jt%") == []

    def test_nothing(self, directory):
        assert self.emrs("") == [] and self.emrs("   ") == []
        assert self.emrs("zzz") == []

    def test_get_by_emr(self, directory):
        assert lookup.get_by_emr(" 100001 ").first_name == "Émilie"
        with pytest.raises(NotFound, match="no patient with EMR id “999”"):
            lookup.get_by_emr("999")


class TestFakeData:
    def test_deterministic_and_varied(self):
        rows = fakedata.generate(2000, seed=3)
        assert rows == fakedata.generate(2000, seed=3)
        assert rows != fakedata.generate(2000, seed=4)
        assert [r["emr_id"] for r in rows[:2]] == ["100001", "100002"]
        assert len({r["emr_id"] for r in rows}) == 2000
        share = lambda pred: sum(map(pred, rows)) / len(rows)  # noqa: E731
        assert 0.35 < share(lambda r: r["app_id"] is not None) < 0.45
        assert 0.55 < share(lambda r: r["language"] == "fr") < 0.65
        assert 0.05 < share(lambda r: r["email"] == "") < 0.2
        assert 0 < share(lambda r: r["do_not_contact"]) < 0.05
        assert len({r["practitioner"] for r in rows}) == 8
        ages = [(fakedata.REFERENCE_DAY - r["date_of_birth"]).days // 365 for r in rows if r["date_of_birth"]]
        assert min(ages) < 2 and max(ages) > 85
        assert all(r["email"].endswith((".org", ".com", ".net")) for r in rows if r["email"])
        assert not any(r["push_enabled"] and not r["app_id"] for r in rows)

    def test_write_csv_french_cp1252(self, tmp_path):
        p = tmp_path / "x.csv"
        fakedata.write_csv(p, fakedata.generate(3), encoding="cp1252", delimiter=";", french_headers=True)
        text = p.read_bytes().decode("cp1252")
        assert text.startswith("No dossier;Prénom;Nom;Date de naissance;")
        assert text.count("\r\n") == 4

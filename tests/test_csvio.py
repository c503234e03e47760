"""core.csvio: real clinic exports (encodings, separators, Excel quoting, line numbers)."""

from __future__ import annotations

import pytest

from core import csvio, folding
from core.errors import BadInput


def write(tmp_path, data: bytes | str, name="f.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return p


class TestNorm:
    @pytest.mark.parametrize(
        "name", ["N° dossier", "no_dossier", "No Dossier", "NO-DOSSIER", "  no.dossier ", "Nº dossier", "# dossier"]
    )
    def test_dossier_spellings_are_one_name(self, name):
        assert csvio.norm(name) == "nodossier"

    def test_accents_case_punctuation(self):
        assert csvio.norm("Prénom") == "prenom"
        assert csvio.norm("E-mail") == csvio.norm("email") == "email"
        assert csvio.norm("Dernière visite") == "dernierevisite"
        assert csvio.norm("Date de naissance (AAAA-MM-JJ)") == "datedenaissance"
        assert csvio.norm("(id)") == "id"

    def test_fold(self):
        assert folding.fold(" Français ") == "francais"
        assert folding.fold("ÉMILIE") == "emilie"


class TestEncodings:
    def test_utf8_bom(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "\ufeffemr_id,first_name\n1,Émilie\n"))
        assert t.encoding == "utf-8-sig"
        assert t.header == ["emr_id", "first_name"]  # no BOM glued to the first name
        assert [(r.line, r.values) for r in t.rows] == [(2, {"emrid": "1", "firstname": "Émilie"})]
        assert [r.values["firstname"] for r in t.rows] == ["Émilie"]

    def test_utf8_without_bom(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "emr_id,prénom\n1,Chloé\n"))
        assert t.encoding == "utf-8"
        assert t.columns == {"emrid": "emr_id", "prenom": "prénom"}
        assert t.rows[0].values["prenom"] == "Chloé"

    def test_windows_1252(self, tmp_path):
        p = write(tmp_path, "No dossier;Prénom;Nom\r\n7;Émilie;Côté\r\n", encoding="cp1252")
        t = csvio.read_table(p)
        assert t.encoding == "cp1252"
        assert t.delimiter == ";"
        assert t.rows[0].values == {"nodossier": "7", "prenom": "Émilie", "nom": "Côté"}

    def test_cp1252_only_specific_bytes(self, tmp_path):
        # “quotes” and œ exist in cp1252 but not in latin-1
        p = write(tmp_path, "id,name\n1,“Œuvre”\n", encoding="cp1252")
        assert csvio.read_table(p).rows[0].values["name"] == "“Œuvre”"

    def test_utf16_with_bom_from_excel_unicode_text(self, tmp_path):
        p = write(tmp_path, "\ufeffid\tnom\r\n1\tGagné\r\n", encoding="utf-16-le")
        t = csvio.read_table(p)
        assert (t.encoding, t.delimiter) == ("utf-16", "\t")
        assert t.rows[0].values == {"id": "1", "nom": "Gagné"}

    def test_binary_is_refused(self, tmp_path):
        p = write(tmp_path, b"PK\x03\x04\x00\x00binary", name="x.xlsx")
        with pytest.raises(BadInput, match=r"x\.xlsx:1: not a text file"):
            csvio.read_table(p)

    def test_undecodable(self, tmp_path):
        p = write(tmp_path, b"id\n\x81\x8d\n")
        with pytest.raises(BadInput, match=r"f\.csv:2: neither UTF-8 nor Windows-1252"):
            csvio.read_table(p)


class TestDelimiters:
    @pytest.mark.parametrize("sep", [",", ";", "\t"])
    def test_sniffed_from_header(self, tmp_path, sep):
        p = write(tmp_path, sep.join(["id", "nom", "prenom"]) + "\n" + sep.join(["1", "Roy", "Léa"]) + "\n")
        t = csvio.read_table(p)
        assert t.delimiter == sep
        assert t.rows[0].values == {"id": "1", "nom": "Roy", "prenom": "Léa"}

    def test_quoted_header_holding_another_separator(self, tmp_path):
        p = write(tmp_path, '"Nom, prénom";"No dossier"\n"Roy, Léa";12\n')
        t = csvio.read_table(p)
        assert t.delimiter == ";"
        assert t.rows[0].values == {"nomprenom": "Roy, Léa", "nodossier": "12"}

    def test_single_column(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "emr_id\n1\n2\n"))
        assert t.delimiter == ","
        assert [r.values["emrid"] for r in t.rows] == ["1", "2"]

    def test_commas_in_data_do_not_fool_a_semicolon_header(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "id;note\n1;a, b, c, d\n"))
        assert t.delimiter == ";"
        assert t.rows[0].values["note"] == "a, b, c, d"


class TestLines:
    def test_excel_quoting_embedded_separator_newline_and_quotes(self, tmp_path):
        text = 'id;note;nom\r\n1;"plain";Roy\r\n2;"two\r\nlines; with ""quotes""";Côté\r\n3;x;Gagné\r\n'
        t = csvio.read_table(write(tmp_path, text))
        assert [r.line for r in t.rows] == [2, 3, 5]
        assert t.rows[1].values["note"] == 'two\r\nlines; with "quotes"'
        assert t.rows[2].values["nom"] == "Gagné"

    def test_blank_lines_skipped_line_numbers_kept(self, tmp_path):
        text = "\n\nid,nom\n\n1,Roy\n   \n,\n2,Côté\n\n"
        t = csvio.read_table(write(tmp_path, text))
        assert t.header_line == 3
        assert [(r.line, r.values["id"]) for r in t.rows] == [(5, "1"), (8, "2")]

    def test_lone_cr_line_endings(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "id,nom\r1,Roy\r2,Côté\r"))
        assert [(r.line, r.values["nom"]) for r in t.rows] == [(2, "Roy"), (3, "Côté")]

    def test_ragged_rows_reported_not_crashed(self, tmp_path):
        text = "id,nom,prenom\n1,Roy,Léa\n2,Côté\n3,a,b,c\n4,Gagné,Luc,,\n"
        t = csvio.read_table(write(tmp_path, text))
        assert [r.line for r in t.rows] == [2, 5]  # trailing empty fields tolerated
        assert [b.line for b in t.bad_rows] == [3, 4]
        first = t.bad_rows[0]
        assert f"{t.where(first.line)}: {first.message}".startswith(
            f"{tmp_path / 'f.csv'}:3: expected 3 fields like the header, got 2"
        )

    def test_unclosed_quote_at_the_end(self, tmp_path):
        t = csvio.read_table(write(tmp_path, 'id,nom\n1,Roy\n2,"Côté\n3,Gagné\n'))
        assert [r.line for r in t.rows] == [2]
        assert t.bad_rows == [csvio.BadRow(3, "a quoted field opened on this line is never closed")]

    def test_values_are_stripped(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "id , nom\n 1 ,  Roy \n"))
        assert t.rows[0].values == {"id": "1", "nom": "Roy"}

    def test_trailing_separators_after_header(self, tmp_path):
        t = csvio.read_table(write(tmp_path, "id;nom;;\n1;Roy;;\n"))
        assert t.header == ["id", "nom"]
        assert t.rows[0].values == {"id": "1", "nom": "Roy"}


class TestUnusable:
    def test_missing_file(self, tmp_path):
        with pytest.raises(BadInput, match=r"nope\.csv: no such file"):
            csvio.read_table(tmp_path / "nope.csv")

    @pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf"])
    def test_empty(self, tmp_path, data):
        with pytest.raises(BadInput, match=r"f\.csv: the file is empty"):
            csvio.read_table(write(tmp_path, data))

    def test_duplicate_column_names(self, tmp_path):
        with pytest.raises(BadInput, match=r"f\.csv:1: columns 1 “No dossier” and 3 “no_dossier” have the same name"):
            csvio.read_table(write(tmp_path, "No dossier,nom,no_dossier\n1,a,1\n"))

    def test_folder(self, tmp_path):
        with pytest.raises(BadInput, match="is a folder"):
            csvio.read_table(tmp_path)

    def test_message_is_one_line(self, tmp_path):
        with pytest.raises(BadInput) as e:
            csvio.read_table(write(tmp_path, b""))
        assert "\n" not in str(e.value)

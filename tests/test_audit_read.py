"""The audit trail an administrator reads: reads of patient data are audited (once per
stretch of typing), filters by day and login, CSV a spreadsheet cannot run."""

import csv
import io
import os
from datetime import date, datetime

import pytest
from helpers import add_patients, ctx_at

from core import campaigns, exports, recipients, views
from core.audit import read as audit_read
from core.config.types import User
from core.context import Ctx
from core.errors import PermissionDenied
from core.models import AuditLog

T0 = datetime(2026, 3, 2, 15, 0, 0)


def actions():
    return [a.action for a in AuditLog.select().order_by(AuditLog.id)]


def test_previews_and_searches_are_audited_once_per_stretch(db, config):
    ctx, clock = ctx_at(config, T0)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000"])
    start = len(actions())
    for _ in range(3):  # the editor refreshes its preview as staff type
        views.template_preview(ctx, c.id, campaigns.get_templates(ctx, c.id)["fr"], "fr")
    assert actions()[start:] == ["preview"]
    clock.advance(minutes=11)
    views.template_preview(ctx, c.id, campaigns.get_templates(ctx, c.id)["fr"], "fr")
    assert actions()[start:] == ["preview", "preview"]

    for text in ("P", "Pr", "Prénom1001", "nobody-at-all"):
        audit_read.search_patients(ctx, text)
    assert actions().count("patient_search") == 1, "typing is one search; a search finding nobody shows nothing"
    clock.advance(minutes=2)
    audit_read.search_patients(ctx, "Tremblay")
    assert actions().count("patient_search") == 2


def test_read_filters_by_clinic_day_and_login_and_is_admin_only(db, config):
    ctx, clock = ctx_at(config, datetime(2026, 3, 2, 4, 0))  # 23:00 on March 1st in Toronto
    campaigns.create(ctx, "invitation", "Late")
    clock.advance(hours=2)  # 01:00 on March 2nd in Toronto
    campaigns.create(ctx, "invitation", "Early")
    assert [r.detail["name"] for r in audit_read.read(ctx, date(2026, 3, 2))] == ["Early"]
    assert [r.detail["name"] for r in audit_read.read(ctx, None, newest_first=True)] == ["Early", "Late"]
    assert audit_read.read(ctx, None, "someone-else") == []
    staff = Ctx(config, User("mlaval", "M", frozenset({"campaigns"})), clock)
    with pytest.raises(PermissionDenied):
        audit_read.read(staff)


def test_csv_cells_never_run_as_formulas(db, config):
    ctx, _ = ctx_at(config, T0)
    add_patients(1, first_name='=HYPERLINK("http://evil")')
    c = campaigns.create(ctx, "invitation", "=1+1")
    recipients.assign_ids(ctx, c.id, ["1000"])
    [row] = list(csv.DictReader(io.StringIO(as_excel_reads(exports.recipients_csv(ctx, c.id)))))
    assert row["name"].startswith("'=HYPERLINK")
    trail = list(csv.reader(io.StringIO(as_excel_reads(audit_read.to_csv(ctx.config, audit_read.read(ctx))))))
    assert trail[0] == ["id", "at", "user", "action", "campaign", "detail"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for line in trail[1:] for cell in line)


def as_excel_reads(text: str) -> str:
    """The CSV's bytes as a spreadsheet decodes them: UTF-8 only when a BOM says so, else
    the Windows code page (Excel on a French Windows)."""
    raw = text.encode("utf-8")
    return raw[3:].decode("utf-8") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("cp1252", "replace")


def test_both_csvs_open_in_a_spreadsheet_with_their_accents(db, config):
    """The ledger and the audit trail start with a BOM (they were UTF-8 without one: French
    Excel showed « PrÃ©nom »), lines end CRLF, and clinicast's own import reads the
    ledger back."""
    ctx, _ = ctx_at(config, T0)
    add_patients(1, first_name="Hélène", last_name="Bérubé-Côté")
    c = campaigns.create(ctx, "invitation", "Vaccin d’automne")
    recipients.assign_ids(ctx, c.id, ["1000"])
    ledger = exports.recipients_csv(ctx, c.id)
    trail = audit_read.to_csv(ctx.config, audit_read.read(ctx))
    assert [r["name"] for r in csv.DictReader(io.StringIO(as_excel_reads(ledger)))] == ["Hélène Bérubé-Côté"]
    assert "Vaccin d’automne" in as_excel_reads(trail)
    assert ledger.count("\r\n") == 2 and trail.endswith("\r\n") and "\n" not in trail.replace("\r\n", "")
    from core import csvio

    table = csvio.parse_table(ledger.encode("utf-8"), "ledger.csv")
    assert table.header == list(exports.COLUMNS) and [r.fields[0] for r in table.rows] == ["1000"]


def test_the_tui_export_writes_a_new_owner_only_file(db, config, tmp_path):
    ctx, _ = ctx_at(config, T0)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    first = exports.write_recipients_csv(ctx, c.id, tmp_path)
    second = exports.write_recipients_csv(ctx, c.id, tmp_path)
    assert first != second and first.name == f"campaign-{c.id}-recipients-2026-03-02-100000.csv"
    assert (first.stat().st_mode & 0o777) == 0o600
    rows = list(csv.DictReader(io.StringIO(first.read_text(encoding="utf-8-sig"))))
    assert [r["emr_id"] for r in rows] == ["1000", "1001"]
    assert actions().count("export") == 2


def test_an_export_that_could_not_be_written_is_not_in_the_trail(db, config, tmp_path):
    """`--output` to a missing folder or a folder, the TUI's export to a folder it cannot
    write: no patient's name went anywhere, and the trail says nothing was exported."""
    from core.errors import BadInput

    ctx, _ = ctx_at(config, T0)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    before = actions().count("export")
    for target in (tmp_path / "missing" / "x.csv", tmp_path):
        with pytest.raises(BadInput):
            exports.recipients_csv(ctx, c.id, write=lambda text, target=target: exports.write_private(target, text))
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere: the missing folder stands for it
        with pytest.raises(BadInput):
            exports.write_recipients_csv(ctx, c.id, closed)
    with pytest.raises(BadInput):
        exports.write_recipients_csv(ctx, c.id, tmp_path / "missing")
    assert actions().count("export") == before
    exports.recipients_csv(ctx, c.id, write=lambda text: exports.write_private(tmp_path / "ok.csv", text))
    assert actions().count("export") == before + 1


def test_the_tui_export_s_file_is_named_in_the_staff_s_language(db, config, tmp_path):
    """`E` in French wrote « campaign-3-recipients-….csv »: the one English name the
    manager hands to an incident register, where the same ledger over SSH is already
    « campagne-3.csv »."""
    from helpers import speaking_french

    ctx, _ = ctx_at(config, T0)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000"])
    words = {"campaign-{id}-recipients-{stamp}": "campagne-{id}-destinataires-{stamp}"}
    with speaking_french(tmp_path / "locale", words):
        path = exports.write_recipients_csv(ctx, c.id, tmp_path)
    assert path.name == f"campagne-{c.id}-destinataires-2026-03-02-100000.csv", path.name

"""`[exports] csv_separator`: Excel on a French (Canada) Windows splits a CSV on its list
separator, ";" (there "," is the decimal mark): staff double-clicking a ledger written
with "," saw each row in one column. The administrator sets ";" once; every CSV clinicast
writes for people (the ledger from the CLI and the TUI, the audit trail) follows it, keeps
its BOM, and clinicast reads its own ledger back."""

import csv
import io
from dataclasses import replace
from datetime import datetime

import pytest
from conftest import write_config
from helpers import add_patients, ctx_at
from test_cli import Runner, patients_csv

from core import campaigns, exports, recipients
from core import config as cfg
from core.audit import read as audit_read
from core.config.types import ExportsSettings

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the separator is no database's


def cells(text: str, separator: str) -> list[list[str]]:
    assert text.startswith("\ufeff") and not text.startswith("\ufeffsep=")  # the BOM, no `sep=` line
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=separator))


def runner(tmp_path, sqlite_url, extra=""):
    run = Runner(write_config(tmp_path, sqlite_url, extra=extra))
    run("init")
    run("patients", "import", str(patients_csv(tmp_path)))
    return run


@pytest.mark.parametrize("separator", [",", ";"])  # without [exports]: "," (test_cli_trust's)
def test_the_ledger_and_the_audit_trail_from_the_cli_use_the_configured_separator(tmp_path, sqlite_url, separator):
    run = runner(tmp_path, sqlite_url, f'[exports]\ncsv_separator = "{separator}"\n')
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Vaccin, automne; 2026")
    run("recipients", "add", str(inv["id"]), "--where", "connected_system != patient_app")
    ledger = cells(run("recipients", "list", str(inv["id"]), "--csv").stdout, separator)
    assert ledger[0] == list(exports.COLUMNS) and len(ledger) == 21
    assert all(len(row) == len(exports.COLUMNS) for row in ledger)
    trail = cells(run("audit", "--csv").stdout, separator)
    assert trail[0] == ["id", "at", "user", "action", "campaign", "detail"]
    assert all(len(row) == 6 for row in trail)  # the JSON detail, with its commas, one cell
    assert any("Vaccin, automne; 2026" in row[5] for row in trail)
    assert run("audit", "--csv").stdout.startswith(f"\ufeffid{separator}at{separator}user")


@SQLITE_ONLY
@pytest.mark.parametrize("separator", [",", ";"])
def test_the_tuis_export_and_the_core_use_the_configured_separator(db, config, tmp_path, separator):
    config = replace(config, exports=ExportsSettings(csv_separator=separator))
    ctx, _ = ctx_at(config, datetime(2026, 3, 2, 15, 0))
    add_patients(2, first_name=lambda i: f"Marie; Ève, {i}")
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    path = exports.write_recipients_csv(ctx, c.id, tmp_path)
    rows = cells(path.read_text(encoding="utf-8"), separator)
    assert rows[0][:3] == ["emr_id", "name", "status"] and [r[1] for r in rows[1:]] == [
        "Marie; Ève, 1000 Tremblay", "Marie; Ève, 1001 Tremblay",
    ]  # fmt: skip
    assert path.read_text(encoding="utf-8").startswith(f"\ufeffemr_id{separator}name{separator}")
    trail = cells(audit_read.to_csv(ctx.config, audit_read.read(ctx)), separator)
    assert trail[0][:2] == ["id", "at"] and all(len(row) == 6 for row in trail)


def test_a_ledger_written_with_semicolons_is_read_back_by_recipients_add(tmp_path, sqlite_url):
    run = runner(tmp_path, sqlite_url, '[exports]\ncsv_separator = ";"\n')
    first = run.json("campaigns", "create", "--kind", "invitation", "--name", "First")
    run("recipients", "add", str(first["id"]), "--where", "connected_system != patient_app")
    ledger = tmp_path / "ledger.csv"
    run("recipients", "list", str(first["id"]), "--csv", "--output", str(ledger))
    assert ledger.read_bytes().startswith(b"\xef\xbb\xbfemr_id;name;")
    second = run.json("campaigns", "create", "--kind", "invitation", "--name", "Second")
    added = run.json("recipients", "add", str(second["id"]), "--csv", str(ledger))
    assert (added["added"], added["not_found"]) == (20, [])
    assert [r["emr_id"] for r in run.json("recipients", "list", str(second["id"]))] == [
        r["emr_id"] for r in run.json("recipients", "list", str(first["id"]))
    ]


MINIMAL = (
    '[clinic]\nname = "C"\naddress = "1 rue A"\nphone = "514-555-0100"\n[database]\nurl = "sqlite:///tmp/x.db"\n'
    '[gateway]\ntransport = "log"\npath = "g.log"\n[email]\nunsubscribe_url = "https://app.example.org/unsubscribe"\n'
)


@pytest.mark.parametrize("value", ['"\\t"', '"|"', '"semicolon"', "59"])
def test_a_separator_other_than_comma_or_semicolon_is_refused_naming_the_key(tmp_path, value):
    from click.testing import CliRunner

    from cli import cli

    p = tmp_path / "c.toml"
    p.write_text(MINIMAL + f"[exports]\ncsv_separator = {value}\n", encoding="utf-8")
    with pytest.raises(cfg.ConfigError) as e:
        cfg.load(p, env={})
    assert e.value.problems == [e.value.problems[0]] and e.value.problems[0].startswith(
        "exports.csv_separator: expected one of “,”, “;”, got "
    ), e.value.problems
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(p)], obj={})
    assert res.exit_code == 2 and res.stderr == f"clinicast: {p}: {e.value.problems[0]}\n", res.stderr
    p.write_text(MINIMAL + '[exports]\ncsv_separator = ";"\n', encoding="utf-8")
    assert cfg.load(p, env={}).exports.csv_separator == ";"
    p.write_text(MINIMAL, encoding="utf-8")
    assert cfg.load(p, env={}).exports.csv_separator == ","  # the spec's format, unless the administrator says

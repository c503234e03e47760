"""Issue #20, inputs that still hung or passed: each refused with one line naming what
is wrong, exit 2, no traceback, the database unchanged (the helpers of test_hostile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostile import csv_file, refused, run  # noqa: F401 - `run` is a fixture

from core import campaigns
from core import config as cfg
from core.audit import read as audit_read
from core.errors import BadInput, ConfigError
from core.models import Patient

ROOT = Path(__file__).resolve().parent.parent


def clinicast(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """The real command in its own process: a hang is a timeout, not a stuck suite."""
    return subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_a_config_that_is_a_fifo_a_device_or_a_link_to_one_is_refused_at_once(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    link = tmp_path / "link.toml"
    link.symlink_to("/dev/urandom")
    for path, what in ((fifo, "is a pipe (FIFO)"), ("/dev/zero", "is a device"), ("/dev/urandom", "is a device"),
                       (link, "is a device")):  # fmt: skip
        r = clinicast("--config", str(path), "status")  # a hang (reading the device) is its 30 s timeout
        assert r.returncode == 2, r.stderr
        assert r.stderr.splitlines() == [f"clinicast: {path}: {what}, expected a TOML config file"]


def test_a_huge_config_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as f:
        f.truncate(3 * 1024**3)  # sparse: 3 GB to stat, nothing on disk
    r = clinicast("--config", str(huge), "status")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"clinicast: {huge}: is 3072 MB; a TOML config file may be at most 1 MB"]


def test_a_csv_mixing_utf8_and_windows_1252_is_refused_naming_the_first_line_that_differs(run, tmp_path):  # noqa: F811
    mixed = "No dossier,Prénom,Nom\n1000,Hélène,Roy\n".encode() + b"1001,Andr\xe9,C\xf4t\xe9\n"
    path = csv_file(tmp_path, mixed)
    line = refused(run, "patients", "import", str(path), match="patients.csv:3:")
    assert "Windows-1252 while line 1 is UTF-8" in line
    assert not Patient.select().exists()


def test_a_date_of_birth_with_a_time_zone_is_refused_at_import(run, tmp_path):  # noqa: F811
    path = csv_file(tmp_path, "No dossier,Date de naissance\n1000,1980-05-04T00:00:00+14:00\n")
    refused(run, "patients", "import", str(path), match="without a time zone")
    ok = csv_file(tmp_path, "No dossier,Date de naissance\n1000,1980-05-04 00:00:00\n", name="ok.csv")
    code, _out, err = run("patients", "import", str(ok))
    assert code == 0, err


def test_an_id_holding_a_line_break_matches_nobody(run, tmp_path):  # noqa: F811
    code, _o, err = run("patients", "import", str(csv_file(tmp_path, "emr_id\n100\n")))
    assert code == 0, err
    code, _o, err = run("campaigns", "create", "--kind", "invitation", "--name", "I")
    assert code == 0, err
    ids = csv_file(tmp_path, b'emr_id\n"10\r\n0"\n', name="ids.csv")
    refused(run, "recipients", "add", "1", "--csv", str(ids), match="holds")


@pytest.mark.parametrize("text", ["١", "１", "1_0", " ٣ "])
def test_campaign_ids_are_ascii_digits(db, text):
    with pytest.raises(BadInput, match="campaign id must be a number"):
        campaigns.get(text)


def test_audit_since_before_1900_is_refused():
    with pytest.raises(BadInput, match="--since: expected a date from 1900-01-01 to 2200-12-31"):
        audit_read.parse_since("1899-01-01")
    with pytest.raises(BadInput):
        audit_read.parse_since("20260101")  # fromisoformat's compact form: not what staff type


def _config(tmp_path, clinic_name='"Clinique du Parc"', user_email='"mlaval@clinic.example"'):
    text = (
        f'[clinic]\nname = {clinic_name}\naddress = "1 rue A"\nphone = "514-555-0100"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/x.db"\n[gateway]\ntransport = "log"\npath = "g.log"\n'
        '[email]\ntransport = "maildir"\npath = "m"\n'
        f'[users.mlaval]\nname = "M"\npermissions = ["campaigns"]\nemail = {user_email}\n'
    )
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return cfg.load(p, env={})


def test_a_clinic_name_with_a_line_break_and_a_users_email_that_is_no_address_are_refused(tmp_path):
    _config(tmp_path)  # the same file with good values loads
    with pytest.raises(ConfigError, match="clinic.name: contains a line break"):
        _config(tmp_path, clinic_name='"Clinique\\ndu Parc"')
    with pytest.raises(ConfigError, match="users.mlaval.email: expected one address"):
        _config(tmp_path, user_email='"x"')

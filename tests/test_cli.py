"""The `clinicast` command as an administrator uses it: exit codes, --json shapes, no change on bad input."""

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from conftest import write_config

from cli import cli

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HEADER = (
    "emr_id,first_name,last_name,date_of_birth,language,email,app_id,"
    "marketing_consent,push_enabled,do_not_contact,practitioner\n"
)


def patients_csv(tmp_path, n=40):
    lines = [HEADER]
    for i in range(n):
        app = f"a-{i}" if i % 2 else ""
        lines.append(
            f"{1000 + i},Prénom{i},Nom{i},1980-01-{1 + i % 28:02d},{'fr' if i % 3 else 'en'},"
            f"p{i}@example.org,{app},{'oui' if i % 4 else 'non'},yes,no,Dr Roy\n"
        )
    f = tmp_path / "patients.csv"
    f.write_text("".join(lines), encoding="utf-8")
    return f


class Runner:
    def __init__(self, config_path):
        self.config_path = str(config_path)
        self.runner = CliRunner()

    def __call__(self, *args, code=0):
        res = self.runner.invoke(cli, [*args, "--config", self.config_path], obj={}, catch_exceptions=False)
        assert res.exit_code == code, f"{args}: exit {res.exit_code}\nstdout: {res.stdout}\nstderr: {res.stderr}"
        return res

    def json(self, *args):
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def run(config_path):
    r = Runner(config_path)
    r("init")
    return r


def test_full_flow_json(run, tmp_path):
    run("patients", "import", str(patients_csv(tmp_path)))
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Rejoignez l'app")
    assert set(inv) >= {"id", "name", "kind", "channel", "status", "window_state", "starts_on", "ends_on", "counts"}
    assert (inv["kind"], inv["channel"], inv["status"]) == ("invitation", "email", "draft")
    added = run.json("recipients", "add", str(inv["id"]), "--where", "connected_system != patient_app")
    assert added == {"added": 20, "already_assigned": 0, "skipped": 0, "skipped_reasons": {}, "not_found": []}
    one = run.json("recipients", "add", str(inv["id"]), "--patient", "1001")
    assert one["skipped"] == 1 and sum(one["skipped_reasons"].values()) == 1  # and why (issue #18)
    ids = tmp_path / "ids.csv"
    ids.write_text("patient_id\n1000\n1002\n4242\n")
    assert run.json("recipients", "add", str(inv["id"]), "--csv", str(ids)) == {
        "added": 0,
        "already_assigned": 2,
        "skipped": 0,
        "skipped_reasons": {},
        "not_found": ["4242"],
    }
    rows = run.json("recipients", "list", str(inv["id"]))
    assert len(rows) == 21
    assert set(rows[0]) == {"emr_id", "name", "status", "reason", "reason_text", "added_at", "sent_at", "first_copy_at"}
    assert {r["status"] for r in rows} == {"assigned", "skipped"}
    removed = run.json("recipients", "remove", str(inv["id"]), "1000")
    assert removed["emr_id"] == "1000" and removed["status"] == "removed" and "will not receive" in removed["outcome"]
    started = run.json("campaigns", "start", str(inv["id"]))
    assert started["sending_begins"] is None  # at once: null, never "" (issue #18)
    shown = run.json("campaigns", "show", str(inv["id"]))
    assert shown["status"] == "sending" and shown["counts"] == {"queued": 19, "removed": 1, "skipped": 1}
    queued = run.json("recipients", "list", str(inv["id"]), "--status", "queued")
    assert len(queued) == 19
    listed = run.json("campaigns", "list")
    assert [c["id"] for c in listed] == [inv["id"]]


def test_adding_patients_again_says_why_those_left_skipped_are(run, tmp_path):
    """A re-assign: the patients still skipped are counted skipped, each under its reason,
    as the first assign said them — not "already assigned" (only those waiting are)."""
    run("patients", "import", str(patients_csv(tmp_path, n=8)))
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Rejoignez l'app")
    ids = tmp_path / "ids.csv"
    ids.write_text("patient_id\n1000\n1001\n1002\n")  # 1001 is on the app already
    run("patients", "opt-out", "1002", "--channel", "email", "--note", "au téléphone")
    first = run("recipients", "add", str(inv["id"]), "--csv", str(ids)).stdout
    again = run("recipients", "add", str(inv["id"]), "--csv", str(ids)).stdout
    # core's words (AssignResult.lines), the TUI's notice one clause a line; each reason
    # counted (« 1 opted out of email »), as a start's breakdown counts them
    assert first.splitlines() == ["1 added", "2 added as skipped (1 already on the patient app, 1 opted out of email)"]
    assert again.splitlines() == [
        "0 added",
        "1 already there",
        "2 already there and still skipped (1 already on the patient app, 1 opted out of email)",
    ]


def test_broadcast_with_window_and_template(run, tmp_path):
    run("patients", "import", str(patients_csv(tmp_path)))
    tpl = tmp_path / "t.toml"
    tpl.write_text(
        '[fr]\ntitle = "Fermé"\nbody = "Fermé le **25**"\npush = "Bonjour de {{ clinic.name }}"\n'
        '[en]\ntitle = "Closed"\nbody = "Closed on the **25th**"\npush = "Hello from {{ clinic.name }}"\n'
    )
    today = date.today()
    b = run.json(
        "campaigns",
        "create",
        "--kind",
        "broadcast",
        "--name",
        "Fêtes",
        "--starts",
        str(today),
        "--ends",
        str(today + timedelta(days=7)),
        "--template",
        str(tpl),
    )
    assert b["channel"] == "app" and b["starts_on"] == str(today)
    r = run.json(
        "recipients",
        "add",
        str(b["id"]),
        "--where",
        "connected_system = patient_app",
        "--where",
        "marketing_consent = yes",
    )
    assert r["added"] > 0 and r["skipped"] == 0


def test_recipients_list_says_who_will_receive_nothing_since_an_opt_out(run, tmp_path):
    """An opt-out recorded after the assign, before the start: `recipients list` says that
    the patient will receive nothing and why (consent is checked again at the start, so
    nothing is stored before it); `--json` keeps the stored status and reason."""
    run("patients", "import", str(patients_csv(tmp_path)))
    tpl = tmp_path / "t.toml"
    tpl.write_text('[fr]\ntitle = "T"\nbody = "B"\npush = "P"\n[en]\ntitle = "T"\nbody = "B"\npush = "P"\n')
    tomorrow = date.today() + timedelta(days=1)
    b = run.json(
        "campaigns", "create", "--kind", "broadcast", "--name", "Demain", "--starts", str(tomorrow),
        "--ends", str(tomorrow + timedelta(days=7)), "--template", str(tpl),
    )  # fmt: skip
    run("recipients", "add", str(b["id"]), "--patient", "1001")  # on the app, with consent
    run("patients", "opt-out", "1001", "--channel", "all", "--note", "au téléphone")
    line = run("recipients", "list", str(b["id"])).stdout.splitlines()[0]
    assert "will receive nothing" in line and "(opted out of the app's messages on " in line, line
    assert "will receive nothing 1" in run("campaigns", "show", str(b["id"])).stdout
    [row] = run.json("recipients", "list", str(b["id"]))
    assert (row["status"], row["reason"], row["reason_text"]) == ("assigned", "", "")


@pytest.mark.parametrize(
    "args,fragment",
    [
        (
            [
                "campaigns",
                "create",
                "--kind",
                "broadcast",
                "--name",
                "B",
                "--starts",
                "2026-13-01",
                "--ends",
                "2026-12-02",
            ],
            "starts: expected a real date YYYY-MM-DD",
        ),
        (["campaigns", "create", "--kind", "broadcast", "--name", "B"], "a broadcast needs the first day"),
        (["campaigns", "show", "99"], "no campaign with id 99"),
        (["recipients", "add", "1", "--where", "shoe_size > 3"], "shoe_size"),
        (["recipients", "add", "1"], "give exactly one of"),
        (["recipients", "list", "1", "--status", "done"], "unknown status"),
        (["campaigns", "create", "--kind", "letter", "--name", "x"], "letter"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(run, args, fragment):
    run("campaigns", "create", "--kind", "invitation", "--name", "Existing")
    before = run.json("campaigns", "list")
    res = run(*args, code=2)
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert run.json("campaigns", "list") == before


def test_every_bad_where_is_said_at_once(run):
    """Two bad `--where`: both said, one line each, exit 2, nothing assigned — not only
    the first, so a person fixes them in one go."""
    cid = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "W")["id"])
    res = run("recipients", "add", cid, "--where", "shoe_size > 3", "--where", "age > x", code=2)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and "shoe_size" in lines[0] and "age > x" in lines[1], lines
    assert all(line.startswith("clinicast: ") for line in lines)
    assert run.json("recipients", "list", cid) == []


def test_a_value_no_patient_has_is_refused_with_the_value_meant(run, tmp_path):
    """`--where "practitioner != 'Dr Ray'"` (every patient's is Dr Roy): a typo that would
    add everyone. Refused, exit 1, nothing written, one line saying it with the value
    meant and one saying how to go ahead; --allow-unknown-values says it and assigns,
    its --json as without the warning."""
    run("patients", "import", str(patients_csv(tmp_path)))
    cid = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "Dr Roy")["id"])
    said = "clinicast: Practitioner “Dr Ray”: no patient has this value; did you mean “Dr Roy”?"
    for where in ("practitioner != 'Dr Ray'", "practitioner = 'Dr Ray'"):
        for json_flag in ((), ("--json",)):
            res = run("recipients", "add", cid, "--where", "age >= 0", "--where", where, *json_flag, code=1)
            assert res.stderr.splitlines() == [
                said,
                "clinicast: nothing was added: correct the value, or give --allow-unknown-values to assign anyway",
            ]
            assert res.stdout == ""
    assert run.json("recipients", "list", cid) == []
    res = run("recipients", "add", cid, "--where", "practitioner != 'Dr Ray'", "--allow-unknown-values", "--json")
    assert res.stderr.splitlines() == ["warning: " + said.removeprefix("clinicast: ")]
    first = json.loads(res.stdout)
    assert list(first) == ["added", "already_assigned", "skipped", "skipped_reasons", "not_found"]
    assert first["added"] + first["skipped"] == 40 and first["added"] > 0
    # a value patients have, whatever its case: no word on stderr
    res = run("recipients", "add", cid, "--where", "practitioner = 'DR ROY'", "--json")
    again = json.loads(res.stdout)
    assert res.stderr == "" and (again["added"], again["already_assigned"] + again["skipped"]) == (0, 40)


def test_an_assign_past_a_value_no_patient_has_is_audited_as_confirmed(run, tmp_path):
    """--allow-unknown-values: the assign's audit row names the conditions whose value no
    patient has, confirmed (the warning seen and gone past); `clinicast audit` says it in
    words. The flag with no such value, or without the flag, writes no such fact."""
    run("patients", "import", str(patients_csv(tmp_path)))
    cid = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "Dr Roy")["id"])
    where = ("--where", "age >= 0", "--where", "practitioner != 'Dr Ray'")
    run("recipients", "add", cid, *where, "--allow-unknown-values", "--json")
    run("recipients", "add", cid, "--where", "practitioner = 'Dr Roy'", "--allow-unknown-values", "--json")
    run("recipients", "add", cid, "--where", "age >= 0", "--json")
    confirmed, known, plain = [a["detail"] for a in run.json("audit") if a["action"] == "assign"]
    assert confirmed["unknown_values_confirmed"] == ["practitioner != Dr Ray"], confirmed
    assert confirmed["conditions"] == ["age >= 0", "practitioner != Dr Ray"]
    assert "unknown_values_confirmed" not in known and "unknown_values_confirmed" not in plain
    said = run("audit").stdout
    assert said.count("confirmed though no patient has the value") == 1, said
    assert "confirmed though no patient has the value: Practitioner != Dr Ray" in said, said


def test_bad_patient_file_changes_nothing(run, tmp_path):
    run("patients", "import", str(patients_csv(tmp_path, 5)))
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "2000,A,B,1980-02-30,fr,a@b.org,,yes,yes,no,X\n")
    res = run("patients", "import", str(bad), code=2)
    assert "bad.csv" in res.stderr and ":2:" in res.stderr


def test_an_import_says_the_columns_it_left_out(run, tmp_path):
    """A column clinicast has no field for is left out of the directory, and the import
    says which: a misnamed one (here an allergy list nobody should import) is seen, not
    lost in silence. French exports' `Date_naissance` is a date of birth."""
    f = tmp_path / "export.csv"
    f.write_text("No_dossier;Prenom;Nom;Date_naissance;Allergies\n5001;Ana;Roy;1990-01-02;pénicilline\n")
    res = run("patients", "import", str(f))
    assert "columns left out (no clinicast field by that name): Allergies" in res.stdout, res.stdout
    shown = run.json("patients", "show", "5001")
    assert shown["record"]["date_of_birth"] == "1990-01-02", shown
    assert run.json("patients", "import", str(f))["ignored_columns"] == ["Allergies"]


def test_an_import_with_two_columns_for_one_field_is_refused(run, tmp_path):
    """`Prénom` is first_name too: neither column is dropped in silence (nor said to have
    no clinicast field); the file is refused naming both, as two columns of one name are."""
    f = tmp_path / "export.csv"
    f.write_text("emr_id,Prénom,first_name\n5001,Ana,Anne\n", encoding="utf-8")
    res = run("patients", "import", str(f), code=2)
    assert (
        res.stderr
        == f"clinicast: {f}:1: columns 2 “Prénom” and 3 “first_name” both mean first_name; rename or remove one\n"
    )
    assert res.stdout == ""
    assert "no patient" in run("patients", "show", "5001", code=2).stderr  # nothing imported


def test_status_says_when_the_next_send_is_due_in_the_clinic_s_time(tmp_path, db_url):
    """`clinicast status` names the next send's time as the clinic reads its clock
    (America/Toronto), not the database's UTC: emails started outside the sending hours
    wait for their opening, said here as that hour."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    opens = (datetime.now(ZoneInfo("America/Toronto")).hour + 6) % 24  # an hour that is not now
    hours = f'[sending]\nhours = "{opens:02d}:00-{opens + 1:02d}:00"\ndays = {list(DAYS)!r}\n'.replace("'", '"')
    run = Runner(write_config(tmp_path, db_url, extra=hours))
    run("init")
    run("patients", "import", str(patients_csv(tmp_path, 4)))
    c = run.json("campaigns", "create", "--kind", "invitation", "--name", "Later")
    run("recipients", "add", str(c["id"]), "--patient", "1002")  # no app account: invited by email
    run("campaigns", "start", str(c["id"]))
    due = datetime.fromisoformat(run.json("status")["deliveries"]["next_due_at"].removesuffix("Z"))
    assert due.replace(tzinfo=UTC).astimezone(ZoneInfo("America/Toronto")).hour == opens
    said = run("status").stdout
    assert "next due " in said and f" {opens:02d}:00:00)" in said, said


def test_an_archive_or_stop_that_changes_nothing_is_refused_exit_1(run):
    """SPEC §7: a refused action exits 1 with one line; nothing is written (there was an
    audit row « archive » per repeat, « stop » on a draft)."""
    c = run.json("campaigns", "create", "--kind", "invitation", "--name", "Printemps")
    run("campaigns", "archive", str(c["id"]))
    trail = run.json("audit")
    for args, said in (
        (("campaigns", "archive", str(c["id"])), f"campaign {c['id']} is already archived"),
        (("campaigns", "stop", str(c["id"])), f"nothing to stop: campaign {c['id']} has not been started"),
    ):
        res = run(*args, code=1)
        assert res.stderr == f"clinicast: {said}\n" and not res.stdout, res.stderr
    run("campaigns", "archive", str(c["id"]), "--undo")
    res = run("campaigns", "archive", str(c["id"]), "--undo", code=1)
    assert res.stderr == f"clinicast: campaign {c['id']} is not archived\n"
    assert [a["action"] for a in run.json("audit")] == [*(a["action"] for a in trail), "unarchive"]


def test_cap_is_a_refusal_exit_1(run, tmp_path):
    run("patients", "import", str(patients_csv(tmp_path, 5)))
    c = run.json("campaigns", "create", "--kind", "invitation", "--name", "C")
    ids = tmp_path / "ids.csv"
    ids.write_text("1000\n1001\n")
    run("recipients", "add", str(c["id"]), "--csv", str(ids))
    run("campaigns", "start", str(c["id"]))
    res = run("campaigns", "start", str(c["id"]), code=1)
    assert "nothing to start" in res.stderr


def test_user_not_listed_is_refused_everywhere(tmp_path, db_url):
    admin = write_config(tmp_path, db_url)
    Runner(admin)("init")
    stranger = write_config(tmp_path, db_url, users='[users.someone_else]\nname = "X"\npermissions = ["admin"]\n')
    r = Runner(stranger)
    for args in (
        ["campaigns", "list"],
        ["campaigns", "create", "--kind", "invitation", "--name", "x"],
        ["status"],
        *([] if os.geteuid() == 0 else [["init"]]),
    ):
        res = r(*args, code=1)  # root is told who administers (in the clinic's language), anyone else what to add
        assert "[users" in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    if os.geteuid() == 0:  # root (as the database's owner) may run init without [users] (SPEC §13)
        r("init")


def test_campaigns_permission_without_admin(tmp_path, db_url):
    import os
    import pwd

    login = pwd.getpwuid(os.geteuid()).pw_name
    write_config(tmp_path, db_url)
    Runner(tmp_path / "clinicast.toml")("init")
    staff = write_config(
        tmp_path, db_url, users=f'[users.{login}]\nname = "Staff"\npermissions = ["campaigns"]\nlanguage = "en"\n'
    )
    r = Runner(staff)
    r("campaigns", "create", "--kind", "invitation", "--name", "ok")
    res = r("patients", "import", str(patients_csv(tmp_path, 2)), code=1)
    assert "lacks the 'admin' permission" in res.stderr


def test_uninitialised_database_and_broken_config(tmp_path, sqlite_url):
    p = write_config(tmp_path, sqlite_url)
    res = Runner(p)("campaigns", "list", code=1)
    assert "run `clinicast init`" in res.stderr
    p.write_text(p.read_text() + "\n[gateway]\nurl = 3\n")
    res = Runner(p)("campaigns", "list", code=2)
    assert str(p) in res.stderr


def test_console_entry_point_runs(tmp_path, sqlite_url):
    p = write_config(tmp_path, sqlite_url)
    out = subprocess.run([sys.executable, "-m", "cli", "--config", str(p), "init"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "cli", "campaigns", "show", "x", "--config", str(p)], capture_output=True, text=True
    )
    assert out.returncode == 2 and out.stderr.startswith("clinicast: campaign id must be a number")


def test_a_command_that_ends_at_once_leaves_its_output_whole_and_its_database_closed(tmp_path, sqlite_url):
    """The program ends without the interpreter's teardown (cli._end_now, issue #21): its
    SQLite database is closed first — the WAL checkpointed and removed, as a clean close
    leaves it (without the close, each write stays in `-wal` beside a `-shm`); what it
    printed arrives whole and its exit code stays. Every step a process of its own: no
    connection of this one holds the WAL open."""
    p = write_config(tmp_path, sqlite_url)
    db = tmp_path / sqlite_url.rsplit("/", 1)[-1]

    def clinicast(*args):
        cmd = [sys.executable, "-m", "cli", *args, "--config", str(p)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    for args in (
        ("init",),
        ("patients", "import", str(patients_csv(tmp_path, n=300))),
        ("campaigns", "create", "--kind", "invitation", "--name", "Fermée"),
    ):
        out = clinicast(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert db.exists() and not db.with_name(db.name + "-wal").exists(), args
        assert not db.with_name(db.name + "-shm").exists(), args
    out = clinicast("patients", "show", "1299", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["record"]["emr_id"] == "1299", out  # all of it, flushed
    out = clinicast("campaigns", "show", "999")
    assert (out.returncode, out.stderr) == (2, "clinicast: no campaign with id 999\n")


def test_a_reader_that_stops_reading_is_no_error(run, config_path):
    """`clinicast audit | head`: the reader goes away; no "Broken pipe" on stderr (issue #18)."""
    run("patients", "import", str(patients_csv(config_path.parent, n=40)))
    cmd = [sys.executable, "-m", "cli", "audit", "--config", str(config_path)]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line (as `head` after its lines)
    try:
        out = subprocess.run(cmd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Broken pipe" not in out.stderr and "Traceback" not in out.stderr and out.stderr == ""
    assert out.returncode == 141  # as a shell tool the reader left (128 + SIGPIPE)


def test_a_patient_in_the_feed_without_a_push_added_again_is_already_there(run, tmp_path):
    """A broadcast recipient in the feed without a push (push turned off: skipped at the
    start for the push only) added again — by one patient, by conditions, by a list — is
    already there: counted and said so, never "added" again, and their row stays as the
    start left it (SPEC §4: assigning a patient twice is a no-op)."""
    f = tmp_path / "p.csv"
    f.write_text(
        HEADER
        + "1000,Anna,Tremblay,1980-01-01,fr,a@example.org,a-1000,oui,yes,no,Dr Roy\n"
        + "1001,Marc,Roy,1980-01-02,fr,m@example.org,a-1001,oui,no,no,Dr Roy\n",  # push off
        encoding="utf-8",
    )
    run("patients", "import", str(f))
    cid = week_broadcast(run, tmp_path)
    run("recipients", "add", cid, "--patient", "1000")
    run("recipients", "add", cid, "--patient", "1001")
    assert run.json("campaigns", "start", cid)["skipped"] == {"push_off": 1}
    before = run.json("recipients", "list", cid)
    assert {r["emr_id"]: (r["status"], r["reason"]) for r in before} == {
        "1000": ("queued", ""),
        "1001": ("skipped", "push_off"),  # in the feed, no push
    }
    already = {"added": 0, "already_assigned": 1, "skipped": 0, "skipped_reasons": {}, "not_found": []}
    assert run.json("recipients", "add", cid, "--patient", "1001") == already
    ids = tmp_path / "ids.csv"
    ids.write_text("patient_id\n1001\n")
    assert run.json("recipients", "add", cid, "--csv", str(ids)) == already
    assert run.json("recipients", "add", cid, "--where", "push_enabled = no") == already
    both = run.json("recipients", "add", cid, "--where", "connected_system = patient_app")
    assert both == {**already, "already_assigned": 2}
    said = run("recipients", "add", cid, "--patient", "1001").stdout
    assert said.splitlines() == ["0 added", "1 already there"]
    assert run.json("recipients", "list", cid) == before  # as the start left it
    assert "nothing to start" in run("campaigns", "start", cid, code=1).stderr  # no push to try again


# --- a template file that leaves out a language ------------------------------------


def _delivered(config_path, tmp_path):
    """The emails the daemon hands to the maildir, as patients get them: one pass of the
    real command."""
    from email import message_from_binary_file, policy

    res = subprocess.run(
        [sys.executable, "-m", "cli", "daemon", "--once", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert res.returncode == 0, res.stderr
    out = {}
    for path in (tmp_path / "maildir").rglob("*.eml"):
        with path.open("rb") as f:
            msg = message_from_binary_file(f, policy=policy.default)
        out[msg["To"].addresses[0].addr_spec] = msg
    return out


FR_ONLY = (
    '[fr]\nsubject = "{{ patient.first_name }}, votre invitation à {{ clinic.name }} !"\n'
    'body = "Bonjour, [rejoindre]({{ invitation.url }}) {{ invitation.code }} [désabonnement]({{ unsubscribe.url }})"\n'
)


def test_a_template_file_keeps_the_languages_it_leaves_out(run, db, config, config_path, tmp_path):
    """A file with only [fr] replaces the French version and keeps the English one — as it
    was (edit), or the default (create) — and the save says so; the English patient gets
    the English email. An empty [en] table empties it on purpose, and the save says who
    then gets the French one, in the start's words."""
    from helpers import ctx_at

    from core import campaigns
    from core.templating import DEFAULT_INVITATION

    ctx, _clock = ctx_at(config)

    run("patients", "import", str(patients_csv(tmp_path, n=3)))  # 1000 speaks English, 1002 French (1001 is on the app)
    fr_only = tmp_path / "tpl_fr.toml"
    fr_only.write_text(FR_ONLY, encoding="utf-8")
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "X")["id"]
    edited = run("campaigns", "edit", str(inv), "--template", str(fr_only))
    assert edited.stdout == f"campaign #{inv} saved\n  The English version is kept as it was.\n"
    assert edited.stderr == ""
    created = run("campaigns", "create", "--kind", "invitation", "--name", "Y", "--template", str(fr_only))
    assert created.stdout.splitlines()[1:] == ["  The English version keeps the default template."]
    assert created.stderr == ""
    for campaign in (inv, inv + 1):
        saved = campaigns.get_templates(ctx, campaign)
        assert saved["en"] == DEFAULT_INVITATION["en"]
        assert saved["fr"]["subject"].startswith("{{ patient.first_name }}, votre invitation")

    run("recipients", "add", str(inv), "--patient", "1000")
    run("recipients", "add", str(inv), "--patient", "1002")
    started = run("campaigns", "start", str(inv))
    assert "warning" not in started.stderr
    got = _delivered(config_path, tmp_path)
    en, fr = got["p0@example.org"], got["p2@example.org"]
    assert (en["Content-Language"], en["Subject"]) == ("en", "Clinique du Parc invites you to join its patient app")
    assert "Hello Prénom0," in en.get_body(("plain",)).get_content()
    assert (fr["Content-Language"], fr["Subject"]) == ("fr", "Prénom2, votre invitation à Clinique du Parc !")

    # on purpose: an empty [en] table empties the English version, and the save says
    # what the start says
    emptied = tmp_path / "tpl_fr_en_vide.toml"
    emptied.write_text(FR_ONLY + "[en]\n", encoding="utf-8")
    said = run("campaigns", "edit", str(inv), "--template", str(emptied))
    assert said.stdout == f"campaign #{inv} saved\n"
    assert said.stderr == (
        "  warning: 1 recipient speaks English and the English version is empty: they will get the French one\n"
    )
    assert campaigns.get_templates(ctx, inv)["en"] == {"subject": "", "body": ""}

    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    refused = run("campaigns", "edit", str(inv), "--template", str(empty), code=2)
    assert refused.stderr == f"clinicast: {empty}: no language table; expected [fr] or [en]\n"


def test_campaigns_list_keeps_its_columns_in_french(tmp_path, db_url):
    """« envoyée avec erreurs » is longer than "sent with errors": a fixed width pushed the
    rest of that campaign's line over, out of line with the others."""
    from conftest import LOGIN

    from core import config as cfg
    from core import db as dbmod
    from core.models import Recipient

    users = f'[users.{LOGIN}]\nname = "A"\npermissions = ["campaigns", "admin"]\nlanguage = "fr"\n'
    path = write_config(tmp_path, db_url, users=users)
    run = Runner(path)
    run("init")
    run("patients", "import", str(patients_csv(tmp_path)))
    errors = run.json("campaigns", "create", "--kind", "invitation", "--name", "Erreurs")
    run.json("campaigns", "create", "--kind", "invitation", "--name", "Brouillon")
    run.json("recipients", "add", str(errors["id"]), "--patient", "1000")
    run.json("campaigns", "start", str(errors["id"]))
    database = dbmod.bind(cfg.load(path, env={}).database.url)
    try:  # the email gave up (what a relay's permanent refusal leaves)
        Recipient.update(status="failed").where(Recipient.campaign == errors["id"]).execute()
    finally:
        database.close()
    lines = run("campaigns", "list").stdout.splitlines()
    assert len(lines) == 2 and "envoyée avec erreurs" in "".join(lines) and "brouillon" in "".join(lines), lines
    # the counts end, and the names start, in the same column on every line
    assert len({line.rindex("/") + len(line.split("/")[-1].split()[0]) for line in lines}) == 1, lines
    assert len({line.index("Erreurs") if "Erreurs" in line else line.index("Brouillon") for line in lines}) == 1, lines


def french_runner(tmp_path, db_url, language="fr"):
    """A staff member who reads French (or `language`), with the 40 patients imported."""
    from conftest import LOGIN

    users = f'[users.{LOGIN}]\nname = "A"\npermissions = ["campaigns", "admin"]\nlanguage = "{language}"\n'
    run = Runner(write_config(tmp_path, db_url, users=users))
    run("init")
    run("patients", "import", str(patients_csv(tmp_path)))
    return run


def french_broadcast(run, tmp_path):
    """A broadcast started for 1001 and 1003, 1003 having opted out of the push only: in
    their feed without the push (« dans le fil, sans notification »)."""
    cid = week_broadcast(run, tmp_path)
    run("recipients", "add", cid, "--patient", "1001")
    run("recipients", "add", cid, "--patient", "1003")
    run("patients", "opt-out", "1003", "--channel", "push", "--note", "au téléphone")
    run("campaigns", "start", cid)
    return cid


def test_recipients_list_keeps_its_columns_in_french(tmp_path, db_url):
    """« dans le fil, sans notification » is longer than the 16 columns "in feed, no push"
    needed: a fixed width pushed the rest of that recipient's line over."""
    run = french_runner(tmp_path, db_url)
    cid = french_broadcast(run, tmp_path)
    lines = run("recipients", "list", cid).stdout.splitlines()
    assert len(lines) == 2 and "dans le fil, sans notification" in lines[1] and "en file" in lines[0], lines
    # the dates start in the same column on every line
    assert len({line.index("ajouté") for line in lines}) == 1, lines


def test_recipients_list_keeps_its_columns_in_english_too(tmp_path, db_url):
    """The status "will receive nothing" is longer than the 16 columns the other statuses need: an
    assigned patient who opted out since had their line pushed over in English too."""
    run = french_runner(tmp_path, db_url, language="en")
    inv = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "Rejoignez")["id"])
    run("recipients", "add", inv, "--patient", "1000")
    run("recipients", "add", inv, "--patient", "1002")
    run("patients", "opt-out", "1000", "--channel", "email", "--note", "by phone")
    lines = run("recipients", "list", inv).stdout.splitlines()
    assert len(lines) == 2 and "will receive nothing" in lines[0] and " assigned " in lines[1], lines
    assert len({line.index("added") for line in lines}) == 1, lines


def test_patients_show_keeps_its_columns_in_french(tmp_path, db_url):
    """« notification » is longer than the 8 columns of the opt-outs' channel, « en reprise »
    than the 9 of the campaigns' status: a fixed width pushed the rest of their line over."""
    from core import config as cfg
    from core import db as dbmod
    from core.models import Patient, Recipient

    run = french_runner(tmp_path, db_url)
    french_broadcast(run, tmp_path)
    other = run.json("campaigns", "create", "--kind", "invitation", "--name", "Rejoignez")
    run("recipients", "add", str(other["id"]), "--patient", "1003")
    run("patients", "opt-out", "1003", "--channel", "email", "--note", "au téléphone")
    database = dbmod.bind(cfg.load(run.config_path, env={}).database.url)
    try:  # the relay said "try later" (what a temporary refusal leaves)
        patient = Patient.get(Patient.emr_id == "1003")
        Recipient.update(status="retrying").where(
            (Recipient.campaign == other["id"]) & (Recipient.patient == patient.id)
        ).execute()
    finally:
        database.close()
    said = run("patients", "show", "1003").stdout.splitlines()
    opt_outs = said[said.index("désabonnements\u00a0:") + 1 : said.index("campagnes\u00a0:")]
    campaigns = said[said.index("campagnes\u00a0:") + 1 :]
    assert len(opt_outs) == 2 and {line.split()[0] for line in opt_outs} == {"notification", "courriel"}, said
    assert len(campaigns) == 2 and any(" en reprise " in line for line in campaigns), said
    # the opt-outs' days, and the campaigns' dates added, start in the same column on every line
    assert len({re.search(r"\d", line).start() for line in opt_outs}) == 1, said
    assert len({line.index("ajouté") for line in campaigns}) == 1, said


def week_broadcast(run, tmp_path) -> str:
    """A draft broadcast « Fêtes » from today for a week, its template in both languages: its id."""
    tpl = tmp_path / "t.toml"
    tpl.write_text('[fr]\ntitle = "T"\nbody = "B"\npush = "P"\n[en]\ntitle = "T"\nbody = "B"\npush = "P"\n')
    today = date.today()
    b = run.json(
        "campaigns", "create", "--kind", "broadcast", "--name", "Fêtes", "--starts", str(today),
        "--ends", str(today + timedelta(days=7)), "--template", str(tpl),
    )  # fmt: skip
    return str(b["id"])


def test_an_import_and_a_campaign_say_each_count_in_its_number(tmp_path, db_url):
    """« 1 nouveaux, 0 mis à jour », « et 1 retirés (non comptés) »: counts said in a
    sentence with a fixed plural. Each is its own ngettext (French: 0 and 1 are singular)."""
    from helpers import speaking_french

    nb = "\u00a0"
    french = {
        "{file}: {patients}: {new}, {updated}": f"{{file}}{nb}: {{patients}}{nb}: {{new}}, {{updated}}",
        ("{n} patient", "{n} patients"): ("{n} patient", "{n} patients"),
        ("{n} new", "{n} new"): ("{n} nouveau", "{n} nouveaux"),
        ("{n} updated", "{n} updated"): ("{n} mis à jour", "{n} mis à jour"),
        ("recipients: {total} ({counts}), and {removed} removed (not counted)",) * 2: (
            f"destinataires{nb}: {{total}} ({{counts}}), et {{removed}} retiré (non compté)",
            f"destinataires{nb}: {{total}} ({{counts}}), et {{removed}} retirés (non comptés)",
        ),
    }
    from conftest import LOGIN

    users = f'[users.{LOGIN}]\nname = "Marie"\npermissions = ["campaigns", "admin"]\nlanguage = "fr"\n'
    run = Runner(write_config(tmp_path, db_url, users=users))
    run("init")
    one = tmp_path / "one"
    one.mkdir()
    with speaking_french(tmp_path / "locale", french):
        said = run("patients", "import", str(patients_csv(one, n=1))).stdout
        assert f": 1 patient{nb}: 1 nouveau, 0 mis à jour" in said, said
        run("patients", "import", str(patients_csv(tmp_path, n=3)))
        c = run.json("campaigns", "create", "--kind", "invitation", "--name", "Rejoignez l'app")["id"]
        run("recipients", "add", str(c), "--patient", "1000")
        run("recipients", "add", str(c), "--patient", "1001")
        run("recipients", "remove", str(c), "1001")
        said = run("campaigns", "show", str(c)).stdout
    assert "et 1 retiré (non compté)" in said, said


@pytest.mark.parametrize("command", [("patients", "import"), ("recipients", "add", "1", "--csv")])
def test_a_first_line_past_the_csv_field_limit_is_one_line_not_a_traceback(run, tmp_path, command):
    """A file whose first line is one field of 200,000 characters (a binary export, a
    spreadsheet saved as one line): the header read met the csv module's field limit and
    ended in a traceback (_csv.Error) where a later line said it in one line, exit 2."""
    run("campaigns", "create", "--kind", "invitation", "--name", "Existing")
    for name, data in {"one.csv": "D" * 200_000, "quoted.csv": 'emr_id,"note\n' + "x" * 200_000 + "\n"}.items():
        f = tmp_path / name
        f.write_text(data)
        res = run(*command, str(f), code=2)
        line = res.stderr.strip()
        assert len(line.splitlines()) == 1 and f"{name}:1: unreadable CSV" in line, line
        assert "131,072" in line, line
    assert run.json("recipients", "list", "1") == []


def test_a_list_of_ids_with_a_row_of_two_fields_says_one_field(run, tmp_path):
    """A one-column list of EMR ids where a name came along on one row: « expected 1
    fields like the header, got 2 » (in French « attendu 1 champs »)."""
    run("patients", "import", str(patients_csv(tmp_path, 3)))
    cid = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "Liste")["id"])
    f = tmp_path / "liste.csv"
    f.write_bytes("N° dossier\r\n1000\r\n1001,Nom1\r\n".encode("cp1252"))
    res = run("recipients", "add", cid, "--csv", str(f), code=2)
    assert f"{f}:3: expected 1 field like the header, got 2 (is a comma" in res.stderr, res.stderr
    assert run.json("recipients", "list", cid) == []

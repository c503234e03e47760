"""`clinicast patients opt-out | opt-in | show`, `clinicast audit`, `recipients list --csv`,
and templates refused for patient data or a missing unsubscribe link: exit codes, one
line on stderr, nothing changed on bad input."""

import csv
import io
import json
import re

import pytest
from conftest import LOGIN, write_config
from test_cli import Runner, patients_csv

from core.models import AuditLog, OptOut


@pytest.fixture
def run(config_path, tmp_path):
    r = Runner(config_path)
    r("init")
    r("patients", "import", str(patients_csv(tmp_path)))
    return r


def one_line(res):
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_opt_out_show_opt_in_and_the_audit_trail(run):
    done = run.json("patients", "opt-out", "1000", "--channel", "email", "--note", "asked by phone")
    assert (done["emr_id"], done["channel"], done["source"], done["new"]) == ("1000", "email", "staff", True)
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Join")
    added = run.json("recipients", "add", str(inv["id"]), "--patient", "1000")
    assert added["skipped"] == 1

    shown = run.json("patients", "show", "1000")
    assert shown["record"]["emr_id"] == "1000" and shown["record"]["first_name"] == "Prénom0"
    [o] = shown["opt_outs"]
    assert (o["channel"], o["source"], o["note"], o["active"], o["recorded_by"]) == (
        "email", "staff", "asked by phone", True, LOGIN,
    )  # fmt: skip
    [c] = shown["campaigns"]
    assert (c["name"], c["status"], c["reason_code"]) == ("Join", "skipped", "opted_out_email")
    text = run("patients", "show", "1000").stdout
    # in the staff member's language ([users.LOGIN] language = "en" here; French: tests/test_i18n_*.py)
    assert "asked by phone" in text and "opted out of email on" in text and "recorded by staff" in text
    assert f"recorded by {LOGIN}" in text and "staff by" not in text, text  # who, as a phrase
    assert c["reason_text"].startswith("opted out of email on")
    # the day as the staff's language writes it, as `patients show` writes it above (it was
    # ISO, « le 2026-12-07 » in French); --json's reason_text keeps the spec's ISO
    assert re.search(r"opted out of email on \d{4}-", text) is None, text
    listed = run("recipients", "list", str(inv["id"])).stdout
    assert "opted out of email on" in listed and re.search(r"on \d{4}-", listed) is None, listed
    assert re.match(r"opted out of email on \d{4}-\d\d-\d\d ", c["reason_text"]), c

    res = run("patients", "opt-in", "1000", "--channel", "email", "--note", "signed the form")
    assert "undone" in res.stdout
    assert run.json("patients", "show", "1000")["opt_outs"][0]["active"] is False

    # every moment in UTC and saying so, as recipients list --json writes it (it had no zone)
    shown = run.json("patients", "show", "1000")["opt_outs"][0]
    assert shown["at"].endswith("Z") and shown["cleared_at"].endswith("Z"), shown
    trail = run.json("audit")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["at"]) for a in trail), trail[0]["at"]
    actions = [a["action"] for a in trail]
    assert {"import", "opt_out", "create", "assign", "patient_show", "opt_in"} <= set(actions)
    opt_in = next(a for a in trail if a["action"] == "opt_in")
    assert opt_in["user"] == LOGIN and opt_in["detail"]["note"] == "signed the form"
    rows = list(csv.DictReader(io.StringIO(run("audit", "--csv", "--user", LOGIN).stdout)))
    assert [r["action"] for r in rows] == actions
    assert run.json("audit", "--user", "nobody") == []
    assert run.json("audit", "--since", "2200-01-01") == []


def test_an_assign_s_summary_names_an_opt_out_without_empty_blanks(run):
    """A count of patients left out for an opt-out read « opted out of email on  () »: the
    words of one patient's opt-out (its day, its source) with nothing to put in."""
    run("patients", "opt-out", "1000", "--channel", "email", "--note", "by phone")
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Join")
    out = run("recipients", "add", str(inv["id"]), "--patient", "1000").stdout
    assert "opted out of email" in out and "on  ()" not in out and "()" not in out, out
    from core import i18n
    from core.audit.words import describe

    i18n.use("fr")
    try:
        said = describe({"skipped": {"opted_out_email": 2}}, None)
    finally:
        i18n.use("en")
    assert said == "écartés\u00a0: 2 (désabonné des courriels 2)", said


def test_undoing_email_under_an_opt_out_of_everything_says_it_still_holds(run):
    """Email and every channel opted out: undoing email said « opt-out of email undone »
    alone, and the staff member believed the invitation would reach the patient."""
    run("patients", "opt-out", "1000", "--channel", "email", "--note", "by phone")
    run("patients", "opt-out", "1000", "--channel", "all", "--note", "by letter")
    res = run("patients", "opt-in", "1000", "--channel", "email", "--note", "signed the form")
    assert "opt-out of email undone" in res.stdout
    assert "still opted out of every channel since " in res.stdout and "(--channel all)" in res.stdout, res.stdout
    done = run.json("patients", "opt-in", "1000", "--channel", "all", "--note", "signed the form")
    assert done["all_since"] is None and done["cleared"] == 1


def test_bad_input_is_one_line_exit_2_and_changes_nothing(run, db):
    n = AuditLog.select().count()
    for args, message in [
        (("patients", "opt-out", "1000", "--channel", "sms", "--note", "x"), "unknown channel “sms”"),
        (("patients", "opt-out", "1000", "--channel", "email", "--note", " "), "needs a note"),
        (("patients", "opt-out", "99999", "--channel", "email", "--note", "x"), "no patient with EMR id “99999”"),
        (("patients", "opt-in", "1000", "--channel", "email", "--note", "x"), "has no opt-out of email to undo"),
        (("patients", "show", "99999"), "no patient with EMR id"),
        (("audit", "--since", "yesterday"), "--since: expected a date YYYY-MM-DD"),
        (("audit", "--json", "--csv"), "not both"),
    ]:
        assert message in one_line(run(*args, code=2)), args
    assert OptOut.select().count() == 0 and AuditLog.select().count() == n


def test_opt_in_and_audit_are_for_admins_only(run, tmp_path, db_url):
    run("patients", "opt-out", "1000", "--channel", "all", "--note", "at the desk")
    staff = Runner(
        write_config(
            tmp_path, db_url, users=f'[users.{LOGIN}]\nname = "S"\npermissions = ["campaigns"]\nlanguage = "en"\n'
        )
    )
    assert "lacks the 'admin' permission" in one_line(
        staff("patients", "opt-in", "1000", "--channel", "all", "--note", "x", code=1)
    )
    assert "lacks the 'admin' permission" in one_line(staff("audit", code=1))
    assert staff.json("patients", "opt-out", "1001", "--channel", "push", "--note", "by phone")["new"] is True


def test_recipient_ledger_exports_as_csv_audited(run):
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Join")
    run("recipients", "add", str(inv["id"]), "--where", "connected_system != patient_app")
    out = run("recipients", "list", str(inv["id"]), "--csv").stdout
    assert out.startswith("\ufeffemr_id,"), out[:20]  # a BOM: Excel on a French Windows reads the accents right
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    assert len(rows) == 20 and set(rows[0]) == {
        "emr_id", "name", "status", "reason", "reason_text", "added_at", "sent_at", "first_copy_at",
    }  # fmt: skip
    assert rows[0]["status"] == "assigned"
    [export] = [a for a in run.json("audit") if a["action"] == "export"]
    assert export["campaign_id"] == inv["id"] and export["detail"]["rows"] == 20


def test_the_ledger_as_json_is_an_audited_export_too(run, tmp_path):
    """`recipients list ID --json --output ledger.json` writes the same ledger as `--csv`
    (every patient's name and status, to a file or a pipe): the CSV left an « export » row
    in the trail, the JSON none, so a copy of the ledger could leave unseen."""
    inv = run.json("campaigns", "create", "--kind", "invitation", "--name", "Join")
    run("recipients", "add", str(inv["id"]), "--where", "connected_system != patient_app")
    run("recipients", "list", str(inv["id"]), "--json", "--output", str(tmp_path / "ledger.json"))
    assert len(json.loads((tmp_path / "ledger.json").read_text(encoding="utf-8"))) == 20
    assert len(run.json("recipients", "list", str(inv["id"]), "--status", "assigned")) == 20
    exports = [a for a in run.json("audit") if a["action"] == "export"]
    assert [(a["campaign_id"], a["detail"]["rows"], a["detail"]["status"]) for a in exports] == [
        (inv["id"], 20, ""),
        (inv["id"], 20, "assigned"),
    ], exports


@pytest.mark.parametrize(
    ("kind", "template", "message"),
    [
        (
            "broadcast",
            '[fr]\ntitle = "T"\nbody = "B"\npush = "Bonjour {{ patient.first_name }}"\n',
            "'patient.first_name' is patient data: a push shows on a locked phone screen",
        ),
        (
            "broadcast",
            '[fr]\ntitle = "T"\nbody = "Bonjour {{ patient.first_name }}"\npush = "P"\n',
            "'patient.first_name' is patient data: the broadcast's body is one message for the whole audience",
        ),
        (
            "invitation",
            '[fr]\nsubject = "S"\nbody = "Rejoignez-nous : {{ invitation.url }}"\n',
            "must carry the patient's unsubscribe link {{ unsubscribe.url }}",
        ),
        (
            "invitation",
            '[fr]\nsubject = "S"\nbody = "Bonjour {{ patient.first_name }}, rejoignez-nous. {{ unsubscribe.url }}"\n',
            "French version, body: must carry the patient's invitation link {{ invitation.url }} "
            "or code {{ invitation.code }}",
        ),
    ],
)
def test_templates_refused_at_save_one_line_exit_2(run, tmp_path, kind, template, message):
    f = tmp_path / "t.toml"
    f.write_text(template, encoding="utf-8")
    dates = ["--starts", "2030-01-01", "--ends", "2030-01-02"] if kind == "broadcast" else []
    res = run("campaigns", "create", "--kind", kind, "--name", "X", *dates, "--template", str(f), code=2)
    assert message in one_line(res)
    assert run.json("campaigns", "list") == []
    # the same file given to `campaigns edit` is refused the same way, the templates as before
    made = run.json("campaigns", "create", "--kind", kind, "--name", "Y", *dates)
    before = run.json("campaigns", "show", str(made["id"]))
    res = run("campaigns", "edit", str(made["id"]), "--template", str(f), code=2)
    assert message in one_line(res)
    assert run.json("campaigns", "show", str(made["id"])) == before


def test_an_exact_178_character_push_saves_and_179_is_refused(run, tmp_path):
    # the limit no longer depends on a patient's name: what is measured at save is sent
    prefix = "Clinique du Parc: "
    for n, code in ((178, 0), (179, 2)):
        f = tmp_path / f"p{n}.toml"
        push = "{{ clinic.name }}: " + "x" * (n - len(prefix))
        f.write_text(f'[fr]\ntitle = "T"\nbody = "B"\npush = "{push}"\n', encoding="utf-8")
        res = run(
            "campaigns", "create", "--kind", "broadcast", "--name", f"P{n}", "--starts", "2030-01-01",
            "--ends", "2030-01-02", "--template", str(f), code=code,
        )  # fmt: skip
        if code:
            assert "push text is 179 characters; at most 178" in one_line(res)
    assert json.dumps([c["name"] for c in run.json("campaigns", "list")]) == '["P178"]'


def test_patients_show_says_at_what_time_the_opt_out_came_and_the_message_left(run, config_path, tmp_path):
    """A patient calls: « I had opted out and got your invitation ». The manager reads
    `patients show`: the opt-out said only its day (« tout 7 déc. 2026 ») and the campaign
    only when the patient was added, so an opt-out and a message of the same day could not
    be put in order — was it recorded before the message left? Both now say their time,
    in the clinic's zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from test_cli import _delivered

    inv = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "Join")["id"])
    run("recipients", "add", inv, "--patient", "1000")
    run("campaigns", "start", inv)
    assert len(_delivered(config_path, tmp_path)) == 1
    run("patients", "opt-out", "1000", "--channel", "all", "--note", "called: got the invitation")
    shown = run.json("patients", "show", "1000")

    def clock(iso: str) -> str:  # the moment's hour and minute at the clinic
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo("America/Toronto"))
        return moment.strftime("%H:%M")

    [o], [c] = shown["opt_outs"], shown["campaigns"]
    assert c["status"] == "sent" and c["sent_at"]
    lines = run("patients", "show", "1000").stdout.splitlines()
    opt_out = next(line for line in lines if "called: got the invitation" in line)
    campaign = next(line for line in lines if "Join" in line)
    assert clock(o["at"]) in opt_out, opt_out
    assert clock(c["sent_at"]) in campaign.split("added")[1], campaign


def test_the_audit_s_login_filter_does_not_miss_rows_for_a_capital(run):
    """`clinicast audit --user MLaval` (the name as the manager writes it) answered nothing,
    exit 0: read as « she did nothing », when the trail holds her rows under « mlaval »."""
    run("patients", "opt-out", "1000", "--channel", "email", "--note", "by phone")
    mine = run.json("audit", "--user", LOGIN)
    assert mine and run.json("audit", "--user", LOGIN.upper()) == mine
    assert run.json("audit", "--user", LOGIN.capitalize()) == mine


def test_an_audit_that_finds_nothing_says_so(run):
    """`clinicast audit --since 2200-01-01` (or a login that did nothing) printed nothing at
    all, exit 0: at a terminal, a blank that looks like a command that did not run."""
    res = run("audit", "--since", "2200-01-01")
    assert res.stdout.strip() == "no entries", res.stdout
    assert run("audit", "--user", "nobody").stdout.strip() == "no entries"
    assert run.json("audit", "--user", "nobody") == []  # --json and --csv stay the data alone
    assert run("audit", "--user", "nobody", "--csv").stdout.strip() == "\ufeffid,at,user,action,campaign,detail"


def test_campaigns_show_says_who_started_and_stopped_it_and_when(tmp_path, db_url, monkeypatch):
    """« Who sent this campaign? »: `campaigns show` (and its --json) said nothing of who
    created, started or stopped it, nor when — only the audit trail knew. It says them, each
    by its login and at its moment in the clinic's zone; the existing fields stay as they were."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from core import context

    other = "jdoe" if LOGIN != "jdoe" else "jdoe2"
    users = "".join(
        f'[users.{login}]\nname = "{login}"\npermissions = ["campaigns", "admin"]\nlanguage = "en"\n'
        for login in (LOGIN, other)
    )
    run = Runner(write_config(tmp_path, db_url, users=users))
    run("init")
    run("patients", "import", str(patients_csv(tmp_path, n=3)))
    inv = str(run.json("campaigns", "create", "--kind", "invitation", "--name", "Join")["id"])
    run("recipients", "add", inv, "--patient", "1000")
    draft = run.json("campaigns", "show", inv)
    assert draft["created_by"] == LOGIN and draft["created_at"].endswith("Z")
    assert [draft[k] for k in ("started_by", "started_at", "stopped_by", "stopped_at", "restarted_by")] == [None] * 5
    assert "started" not in run("campaigns", "show", inv).stdout

    run("campaigns", "start", inv)  # no daemon: its email waits, for the stop to cancel
    monkeypatch.setattr(context, "login_name", lambda: other)
    run("campaigns", "stop", inv)
    shown = run.json("campaigns", "show", inv)
    assert (shown["started_by"], shown["stopped_by"], shown["restarted_by"]) == (LOGIN, other, None)
    # the fields that were there stay as they were
    assert {k: shown[k] for k in draft if k in ("id", "name", "kind", "channel", "window_state", "archived")} == {
        k: draft[k] for k in ("id", "name", "kind", "channel", "window_state", "archived")
    }

    def clock(iso: str) -> str:  # the moment's hour and minute at the clinic
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo("America/Toronto"))
        return moment.strftime("%H:%M")

    lines = run("campaigns", "show", inv).stdout.splitlines()
    started = next(line for line in lines if line.strip().startswith("started"))
    stopped = next(line for line in lines if line.strip().startswith("stopped"))
    assert started.endswith(f"by {LOGIN}") and clock(shown["started_at"]) in started, lines
    assert stopped.endswith(f"by {other}") and clock(shown["stopped_at"]) in stopped, lines

    run("campaigns", "start", inv)  # started again, by the one who stopped it
    again = run.json("campaigns", "show", inv)
    assert (again["started_by"], again["restarted_by"], again["stopped_by"]) == (LOGIN, other, other)
    lines = run("campaigns", "show", inv).stdout.splitlines()
    assert lines[-1].strip().startswith("started again") and lines[-1].endswith(f"by {other}"), lines

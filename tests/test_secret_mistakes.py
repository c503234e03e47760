"""A clinic administrator's mistake with a secret (SPEC §5, §13): a `token_file` that does
not exist (a mistyped path, a file not written yet) is the sender's problem, not every
staff member's.

The config loads for everyone, so staff work as usual; `config check` names the key, the
file, what is wrong and the fix. A real `clinicast daemon` starts anyway: it sends the
emails (counted at a real SMTP server) and holds the pushes (the gateway channel paused
with the SECRET kind, nobody failed, nothing asked of the loopback gateway), and once
the administrator writes the file the pushes go out by themselves, each app id once,
with no restart. The probe is the daemon's dispatch tick (`[scheduler] tick_seconds`,
0.2 s here)."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config
from test_daemon import Daemon, events, live_broadcast, no_daemon_left_behind, wait
from test_dbfiles import clinicast

from core import campaigns, channel_health, recipients, status
from core import config as cfg
from core.channels.base import SECRET
from core.config import secrets
from core.enums import DeliveryKind
from core.models import ChannelHealth, Delivery, database, utcnow
from core.scheduling.embedded import EmbeddedScheduler
from core.scheduling.scheduler import Scheduler

GATEWAY_KINDS = [k for k in DeliveryKind if not k.by_email]
__all__ = ["no_daemon_left_behind"]  # test_daemon's autouse fixture: a failed test leaves no daemon running


# The two daemon tests count each delivery's attempts (a pause is no attempt): a lease and
# transport timeouts no loaded machine outlives. With the tests' 3 s SMTP timeout a loaded
# CI once ended an email at attempt 2 with one message at the server — most likely a call
# timed out before DATA and was retried: a real retry, not the pause's.
SLOW_OK = {"timeout_seconds": 30.0}


def write_token(path, value: str, mode: int = 0o600) -> None:
    path.write_text(value + "\n")
    os.chmod(path, mode)


def invitation(config, n: int, start: int):
    """An invitation by email to `n` new patients (p<start>@example.org, …), started."""
    ctx = ctx_at(config, utcnow())[0]
    add_patients(n, start)
    c = campaigns.create(ctx, "invitation", f"Join {start}")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(start, start + n)])
    recipients.start(ctx, c.id)
    return c


def test_a_daemon_without_its_token_file_sends_email_and_the_pushes_once_the_file_is_written(
    db, db_url, tmp_path, smtp, gw
):
    token = tmp_path / "gateway.token"  # named in the config, not written yet
    gateway = {"token_env": "", "token_file": str(token)}
    path = delivery_config(
        db_url, tmp_path, smtp=smtp, gateway=gw, email=SLOW_OK, gw=gateway | SLOW_OK, as_toml=True,
        scheduler={"lease_seconds": 60.0},
    )  # fmt: skip
    config = cfg.load(path)  # the config loads: the file's absence is the sender's to say
    b = live_broadcast(config, 3)  # a-1000, a-1001, a-1002: a put, 3 publishes, 3 pushes due now
    c = invitation(config, 3, 2000)
    d = Daemon(path)

    # the emails go; the pushes wait, nobody failed, and the gateway was asked nothing
    assert wait(lambda: len(smtp.messages) == 3, 30), d.stderr
    assert wait(lambda: status_counts(c.id) == {"sent": 3}, 10), d.stderr
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [f"p{i}@example.org" for i in (2000, 2001, 2002)]
    assert d.p.poll() is None, d.stderr  # it started, and runs
    assert gw.requests == [] and gw.pushes == []
    assert "failed" not in status_counts(b.id) and "sent" not in status_counts(b.id)
    held = list(Delivery.select().where(Delivery.kind.in_(GATEWAY_KINDS)))
    assert len(held) == 1 + 3 + 3 and {(x.status, x.attempts) for x in held} == {("pending", 0)}

    # the log (key=value), `clinicast status` and the status line say why, with the fix
    why = f"gateway.token_file: {token} does not exist: write the secret in it (one line, not readable by others)"
    [paused] = [e for e in events(d.stderr) if e.get("event") == "channel_paused"]
    assert (paused["channel"], paused["problem"], paused["level"]) == ("gateway", SECRET, "warning"), d.stderr
    assert paused["error"].startswith(why) and paused["message"].startswith("cannot read the secret to send since ")
    ctx = ctx_at(config, utcnow())[0]
    [ch] = status.overview(ctx)["channels"]
    assert (ch["channel"], ch["problem"]) == ("gateway", SECRET) and why in ch["message"]
    text = status.format_overview(status.overview(ctx), ZoneInfo("America/Toronto"))
    assert "paused: cannot read the secret to send since" in text and str(token) in text
    line = status.sending_line(config, utcnow())
    assert line.startswith("gateway paused: cannot read the secret to send since") and why in line
    res = clinicast(path, "status")
    assert res.returncode == 0 and why in res.stdout, res.stdout + res.stderr
    # the opt-out feed is the gateway's too: it waits with the channel, not a failure a tick
    assert "opt_out_feed_failed" not in d.stderr, d.stderr

    # the administrator writes the file: the pushes go at the next probe, no restart
    write_token(token, gw.token)
    assert wait(lambda: len(gw.pushes) == 3, 30), d.stderr
    assert wait(lambda: status_counts(b.id) == {"sent": 3}, 10), d.stderr
    assert wait(lambda: any(e.get("event") == "channel_resumed" for e in events(d.stderr)), 10), d.stderr
    assert d.p.poll() is None, "the same process: no restart"
    assert channel_health.problems() == [] and "paused" not in status.sending_line(config, utcnow())
    d.signal(signal.SIGTERM)
    code, err = d.wait(30)
    assert code == 0, err

    # exactly once: each app id pushed once at the gateway, not even a replay; each email once
    assert Counter(p["app_id"] for p in gw.pushes) == {"a-1000": 1, "a-1001": 1, "a-1002": 1}
    asked = [i for r in gw.calls("POST") if r.path.endswith("/push") for i in r.body["app_ids"]]
    assert sorted(asked) == ["a-1000", "a-1001", "a-1002"] and gw.push_repeats == 0
    assert gw.audience(b.uuid) == {"a-1000", "a-1001", "a-1002"}
    assert len(smtp.messages) == 3
    # (a lease no loaded machine outlives: a hand-over taken again after its lease expired
    # would count a second attempt that is not the pause's)
    rows = [(x.kind, x.status, x.attempts) for x in Delivery.select()]
    # an attempt more says why (one run under a loaded full suite had an email at attempt 2)
    why = [(x.kind, x.attempts, x.last_error) for x in Delivery.select() if x.attempts != 1]
    assert all(s == "sent" and n == 1 for _k, s, n in rows), f"the wait was no attempt: {rows}; {why}; {err[-3000:]}"
    assert [e.get("event") for e in events(err)].count("channel_paused") == 1, "said once, not at every probe"


def test_a_missing_token_file_leaves_staff_working_and_config_check_names_it(tmp_path, sqlite_url):
    token = tmp_path / "secrets" / "gateway.token"  # a mistyped folder, as over SSH
    gateway = {"transport": "http", "url": "http://127.0.0.1:9", "token_file": str(token)}
    path = delivery_config(sqlite_url, tmp_path, gw=gateway, as_toml=True)
    assert clinicast(path, "init").returncode == 0
    res = clinicast(path, "campaigns", "create", "--kind", "invitation", "--name", "Join")
    assert res.returncode == 0, res.stderr
    res = clinicast(path, "campaigns", "list")
    assert res.returncode == 0 and "Join" in res.stdout and res.stderr == "", res.stdout + res.stderr

    res = clinicast(path, "config", "check")
    said = (
        f"secrets: the gateway token: no account can send with it: gateway.token_file: {token} does not exist: "
        "write the secret in it (one line, not readable by others), or correct the path"
    )
    assert said in res.stdout, res.stdout
    assert "so nothing goes out by gateway until the gateway token is fixed: its deliveries wait" in res.stdout
    # exit 2, as for an SMTP setup that lacks a key email needs: sending would fail on the config
    assert res.returncode == 2 and f"{path}: problems" in res.stdout, res.stdout + res.stderr

    token.parent.mkdir()
    write_token(token, "tok")
    res = clinicast(path, "config", "check")
    assert res.returncode == 0 and f"the gateway token ({token}): " in res.stdout, res.stdout + res.stderr


def test_a_tui_session_without_the_token_file_still_sends_email(db, db_url, tmp_path, smtp, gw, monkeypatch):
    """The TUI's embedded scheduler, as the daemon: a token file nobody can read pauses the
    gateway only; a secret only this account lacks (a variable its shell does not have)
    still keeps a staff member's session from sending (SPEC §13)."""
    token = tmp_path / "gateway.token"
    gateway = {"token_env": "", "token_file": str(token)}
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, gw=gateway, scheduler={"embedded": "always"})
    c = invitation(config, 2, 2000)
    b = live_broadcast(config, 2)
    session = EmbeddedScheduler(config)
    try:
        assert session.start() and session.blocked == []
        assert wait(lambda: status_counts(c.id) == {"sent": 2}, 20) and len(smtp.messages) == 2
        line = status.sending_line(config, utcnow(), session)
        assert line.startswith("gateway paused: cannot read the secret to send since") and str(token) in line
        assert gw.pushes == [] and "failed" not in status_counts(b.id)
        write_token(token, gw.token)
        assert wait(lambda: status_counts(b.id) == {"sent": 2}, 20)
    finally:
        session.stop()
    assert Counter(p["app_id"] for p in gw.pushes) == {"a-1000": 1, "a-1001": 1}

    monkeypatch.delenv("CLINICAST_TEST_NO_SUCH_TOKEN", raising=False)
    gateway = {"token_env": "CLINICAST_TEST_NO_SUCH_TOKEN"}
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, gw=gateway, scheduler={"embedded": "always"})
    session = EmbeddedScheduler(config)
    assert not session.start() and session.blocked == ["the gateway token"]


def test_a_secret_open_to_others_is_never_used_and_its_channel_resumes_once_closed(db, db_url, tmp_path, gw):
    """A token file others can read (0644, an editor's umask 022): the config loads, the
    sender never uses it (whoever could read it may have: change it too), and its
    channel waits with the chmod to run."""
    token = tmp_path / "gateway.token"
    write_token(token, gw.token, 0o644)
    config = delivery_config(db_url, tmp_path, gateway=gw, gw={"token_env": "", "token_file": str(token)})
    problem = secrets.problem(config.gateway.token_secret)
    assert problem is not None and problem.everyone
    assert problem.problems == [
        f"gateway.token_file: {token} is readable or writable by others; run: chmod o-rwx {token}"
    ]
    b = live_broadcast(config, 2)
    sched = Scheduler(config)
    try:
        sched.dispatch()  # one probe and one pass, as a tick of the daemon
        [p] = channel_health.problems()
        assert (p.channel, p.problem) == ("gateway", SECRET) and f"chmod o-rwx {token}" in p.detail
        assert gw.requests == [] and "sent" not in status_counts(b.id)
        os.chmod(token, 0o600)
        sched.dispatch()
        assert channel_health.problems() == [] and status_counts(b.id) == {"sent": 2}
    finally:
        sched.stop(1)
    assert Counter(p["app_id"] for p in gw.pushes) == {"a-1000": 1, "a-1001": 1}


def test_the_probe_ends_only_the_pauses_about_a_channel_s_secret(db, db_url, tmp_path, gw):
    """A token the gateway refused (401) is not fixed because the file can be read, nor is
    a DKIM key that does not sign; a pause about a secret the config no longer names (the SMTP
    password of a clinic that switched to a maildir) ends at the next look."""
    token = tmp_path / "gateway.token"
    write_token(token, "mistyped")
    config = delivery_config(db_url, tmp_path, gateway=gw, gw={"token_env": "", "token_file": str(token)})
    assert config.email.transport == "maildir"
    now = utcnow()
    until = now + timedelta(seconds=60)
    channel_health.note([("gateway", "gateway_token", "gateway answered HTTP 401", until)], [], now, "test")
    not_a_key = "cannot sign with the DKIM key /k: Unparsable private key; check [email] dkim_key_file"
    channel_health.note([("email", SECRET, not_a_key, until)], [], now, "test")
    assert channel_health.look_at_secrets(config, now, "test") == []
    assert [(p.channel, p.problem) for p in channel_health.problems()] == [
        ("email", SECRET),
        ("gateway", "gateway_token"),
    ]
    channel_health.note([("email", SECRET, "email.password_file: /etc/p is empty", until)], [], now, "test")
    [resumed] = channel_health.look_at_secrets(config, now, "test")
    assert (resumed.what, resumed.problem.channel) == ("resumed", "email")
    assert [(p.channel, p.problem) for p in channel_health.problems()] == [("gateway", "gateway_token")]


# --- the DKIM private key: a secret file too ------------------------------------------


def _dkim(key) -> dict:
    return {"dkim_key_file": str(key), "dkim_selector": "clinic2026", "dkim_domain": "example.org"}


def _write_key(key, mode: int) -> None:
    """A new RSA key put in place whole with its mode (openssl writes it 0600 first: a
    probe between that and a chmod would see a usable key for a moment)."""
    import subprocess

    new = key.with_name(key.name + ".new")
    subprocess.run(["openssl", "genrsa", "-out", str(new), "2048"], check=True, capture_output=True)
    os.chmod(new, mode)
    os.replace(new, key)


def _in(language: str, path):
    """The same config, read by a staff member (or run by an account) of that language."""
    other = path.with_name(f"clinicast-{language}.toml")
    other.write_text(path.read_text(encoding="utf-8").replace('language = "en"', f'language = "{language}"'))
    return other


def test_a_daemon_without_its_dkim_key_sends_the_pushes_and_each_email_once_the_key_is_fixed(
    db, db_url, tmp_path, smtp, gw
):
    """The DKIM key file missing, then written open to others (an editor's umask 022):
    the daemon starts, the pushes go, the emails wait (none at the SMTP server, nobody
    failed), each reason said with its fix; once the file is closed the emails go, each
    once and signed, with no restart. The daemon runs in French (its account's language):
    what it stores is said in English to the English staff member reading `status`."""
    pytest.importorskip("dkim")
    key = tmp_path / "dkim.key"  # named in the config, not written yet
    path = delivery_config(
        db_url, tmp_path, smtp=smtp, gateway=gw, email=_dkim(key) | SLOW_OK, gw=SLOW_OK, as_toml=True,
        scheduler={"lease_seconds": 60.0},
    )  # fmt: skip
    config = cfg.load(path)  # the config loads: the key's absence is the sender's to say
    assert secrets.problem(config.email.dkim_key_secret) is not None
    c = invitation(config, 3, 2000)
    b = live_broadcast(config, 3)
    d = Daemon(_in("fr", path))

    # the pushes go; the emails wait, nobody failed, nothing reached the SMTP server
    assert wait(lambda: len(gw.pushes) == 3, 30), d.stderr
    assert wait(lambda: status_counts(b.id) == {"sent": 3}, 10), d.stderr
    assert d.p.poll() is None, d.stderr  # it started, and runs
    assert smtp.messages == []
    assert "failed" not in status_counts(c.id) and "sent" not in status_counts(c.id)
    missing = (
        f"email.dkim_key_file: {key} does not exist: write the private key in it (PEM, not readable by others), "
        "or correct the path"
    )
    [paused] = [e for e in events(d.stderr) if e.get("event") == "channel_paused"]
    assert (paused["channel"], paused["problem"]) == ("email", SECRET), d.stderr
    assert paused["error"] == missing, "stored in English, whatever the daemon's language"
    res = clinicast(path, "status")  # an English staff member
    assert res.returncode == 0 and "paused: cannot read the secret to send since" in res.stdout, res.stdout
    assert missing in res.stdout, res.stdout + res.stderr

    # written, but readable by others: still never used, the chmod to run said
    _write_key(key, 0o644)
    opened = f"email.dkim_key_file: {key} is readable or writable by others; run: chmod o-rwx {key}"
    assert wait(lambda: [p.detail for p in channel_health.problems()] == [opened], 10), d.stderr
    res = clinicast(path, "status")
    assert opened in res.stdout, res.stdout + res.stderr
    assert smtp.messages == [] and "sent" not in status_counts(c.id)

    # closed: the emails go at the next probe, no restart
    os.chmod(key, 0o600)
    assert wait(lambda: len(smtp.messages) == 3, 30), d.stderr
    assert wait(lambda: status_counts(c.id) == {"sent": 3}, 10), d.stderr
    assert wait(lambda: any(e.get("event") == "channel_resumed" for e in events(d.stderr)), 10), d.stderr
    assert d.p.poll() is None, "the same process: no restart"
    assert channel_health.problems() == []
    d.signal(signal.SIGTERM)
    code, err = d.wait(30)
    assert code == 0, err

    # each email once, signed; each push once; no wait counted as an attempt
    assert Counter(m.rcpt_tos[0] for m in smtp.messages) == {f"p{i}@example.org": 1 for i in (2000, 2001, 2002)}
    assert all(m.message["DKIM-Signature"] for m in smtp.messages)
    assert Counter(p["app_id"] for p in gw.pushes) == {"a-1000": 1, "a-1001": 1, "a-1002": 1}
    rows = [(x.kind, x.status, x.attempts) for x in Delivery.select()]
    # an attempt more says why (one run under a loaded full suite had an email at attempt 2)
    why = [(x.kind, x.attempts, x.last_error) for x in Delivery.select() if x.attempts != 1]
    assert all(s == "sent" and n == 1 for _k, s, n in rows), f"the wait was no attempt: {rows}; {why}; {err[-3000:]}"


def test_a_dkim_key_mistake_leaves_staff_working_and_config_check_names_it(tmp_path, sqlite_url):
    key = tmp_path / "keys" / "dkim.key"  # a folder not made yet
    email = {
        "transport": "smtp",
        "host": "127.0.0.1",
        "port": 9,
        "unsubscribe_url": "https://app.example.org/unsubscribe",
        **_dkim(key),
    }
    path = delivery_config(sqlite_url, tmp_path, email=email, as_toml=True)
    assert clinicast(path, "init").returncode == 0
    res = clinicast(path, "campaigns", "create", "--kind", "invitation", "--name", "Join")
    assert res.returncode == 0, res.stderr
    res = clinicast(path, "campaigns", "list")
    assert res.returncode == 0 and "Join" in res.stdout and res.stderr == "", res.stdout + res.stderr

    def check(why: str) -> None:
        res = clinicast(path, "config", "check")
        said = f"secrets: the DKIM private key file: no account can send with it: email.dkim_key_file: {key} {why}"
        assert said in [line.strip() for line in res.stdout.splitlines()], res.stdout  # one line
        assert "so nothing goes out by email until the DKIM private key file is fixed: its deliveries wait" in (
            res.stdout
        )
        assert res.returncode == 2 and f"{path}: problems" in res.stdout, res.stdout + res.stderr

    check(
        "does not exist: write the private key in it (PEM, not readable by others), or correct the path",
    )
    key.parent.mkdir()
    key.write_text("")
    os.chmod(key, 0o600)
    check("is empty")
    _write_key(key, 0o644)
    check(f"is readable or writable by others; run: chmod o-rwx {key}")
    res = clinicast(path, "campaigns", "list")  # still no config error for anyone
    assert res.returncode == 0 and "Join" in res.stdout, res.stdout + res.stderr

    os.chmod(key, 0o640)  # the service account's group may read it
    res = clinicast(path, "config", "check")
    assert res.returncode == 0 and f"the DKIM private key file ({key}): " in res.stdout, res.stdout + res.stderr


def test_a_pause_is_said_in_the_reader_s_language_whoever_wrote_it(db, db_url, tmp_path, gw):
    """A pause written by an English process (this one) reads in French for a French staff
    member, through the real `clinicast status`; `--json` keeps the stored English. A
    pause an older version stored in its own words (a French 0.2.x daemon's) is shown as
    stored."""
    token = tmp_path / "gateway.token"  # named, not written
    path = delivery_config(db_url, tmp_path, gateway=gw, gw={"token_env": "", "token_file": str(token)}, as_toml=True)
    config = cfg.load(path)
    sched = Scheduler(config)
    try:
        sched.look_at_secrets()  # the probe of a dispatcher, in English
    finally:
        sched.stop(1)
    english = (
        f"gateway.token_file: {token} does not exist: write the secret in it (one line, not readable by others), "
        "or correct the path"
    )
    [p] = channel_health.problems()
    assert (p.problem, p.detail) == (SECRET, english)

    res = clinicast(_in("fr", path), "status")
    assert res.returncode == 0, res.stdout + res.stderr
    french = (
        f"gateway.token_file\u00a0: {token} n'existe pas\u00a0: écrivez-y le secret (une ligne, non lisible par "
        "les autres), ou corrigez le chemin"
    )
    assert "impossible de lire le secret d'envoi depuis" in res.stdout and french in res.stdout, res.stdout
    assert "does not exist" not in res.stdout, res.stdout
    res = clinicast(_in("fr", path), "status", "--json")
    [ch] = json.loads(res.stdout)["channels"]
    assert ch["detail"] == english, "--json keeps the stored English"
    res = clinicast(path, "status")
    assert res.returncode == 0 and english in res.stdout, res.stdout + res.stderr

    # a row a French 0.2.x daemon stored in its words: shown as stored, and still ended by
    # the probe once the file is written
    old = f"gateway.token_file: {token} n'existe pas : écrivez-y le secret"
    now = utcnow()
    with database.atomic():
        ChannelHealth.update(detail=old).execute()
    res = clinicast(path, "status")
    assert res.returncode == 0 and old in res.stdout, res.stdout + res.stderr
    write_token(token, gw.token)
    [resumed] = channel_health.look_at_secrets(config, now, "test")
    assert resumed.what == "resumed" and channel_health.problems() == []

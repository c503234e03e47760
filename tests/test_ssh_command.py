"""clinicast as sshd's ForceCommand (SPEC §13, issue #19): the client's words in
SSH_ORIGINAL_COMMAND, files through stdin and stdout, no TUI into a pipe, a config check
that only looks, exports written 0600.

Each case runs the real `clinicast` command in a subprocess with the environment sshd
gives a forced command (tests/test_ssh_server.py does the same through a real sshd).
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LOGIN, write_config

from cli.base import COMMAND_MODULES
from cli.ssh import Refused, forced_argv, split

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = list(COMMAND_MODULES)  # the top-level commands, each loaded when it runs


def forced(config, command=None, *, stdin=b"", user_args=(), umask=0o022, **kw):
    """`clinicast --config CONFIG` as sshd runs it, the client having asked for `command`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(config.parent)}
    if command is not None:
        env["SSH_ORIGINAL_COMMAND"] = command
    return subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(config), *user_args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        preexec_fn=lambda: os.umask(umask),
        **kw,
    )


def one_line(res, code, *words):
    err = res.stderr.decode() if isinstance(res.stderr, bytes) else res.stderr
    assert res.returncode == code, (res.returncode, res.stdout, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res


@pytest.fixture
def clinic(tmp_path, sqlite_url):
    """A config, its database and 30 patients (emr ids 1000-1029)."""
    config = write_config(tmp_path, sqlite_url)
    ok(forced(config, "init"))
    rows = "".join(f"{1000 + i},P{i},N{i},1980-01-{1 + i % 28:02d},fr,p{i}@example.org\n" for i in range(30))
    csv = ("emr_id,first_name,last_name,date_of_birth,language,email\n" + rows).encode()
    res = ok(forced(config, "patients import -", stdin=csv))
    assert res.stdout.decode().startswith("stdin: 30 patients"), res.stdout
    cid = json.loads(ok(forced(config, "campaigns create --kind invitation --name 'Été 2026' --json")).stdout)["id"]
    return config, cid


# --- the client's words ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, expected",
    [
        ("campaigns list", ["campaigns", "list"]),
        ("recipients add 3 --csv -", ["recipients", "add", "3", "--csv", "-"]),
        (
            "campaigns create --kind invitation --name 'A & B'",
            ["campaigns", "create", "--kind", "invitation", "--name", "A & B"],
        ),
        ('recipients add 3 --where "age > 60"', ["recipients", "add", "3", "--where", "age > 60"]),
        ("--version", ["--version"]),
        ("", []),
    ],
)
def test_the_client_words_become_a_clinicast_command(command, expected):
    assert forced_argv(["--config", "/etc/c.toml"], COMMANDS, {"SSH_ORIGINAL_COMMAND": command}) == [
        "--config",
        "/etc/c.toml",
        *expected,
    ]


@pytest.mark.parametrize(
    "command, words",
    [
        ("sh -c id", "“sh” is not a clinicast command"),
        ("scp -t .", "“scp” is not a clinicast command"),
        ("/usr/lib/openssh/sftp-server", "is not a clinicast command"),
        ("internal-sftp", "is not a clinicast command"),
        ("; id", "shell syntax"),
        ("campaigns list; id", "shell syntax"),
        ("campaigns list | sh", "shell syntax"),
        ("campaigns list && id", "shell syntax"),
        ("recipients list 3 --csv > /etc/passwd", "shell syntax"),
        ("campaigns list --config /dev/stdin", "--config is not yours to give"),
        ("--config=/dev/stdin campaigns list", "--config is not yours to give"),
        ("campaigns list --config=/tmp/mine.toml", "--config is not yours to give"),
        ("daemon", "not available over SSH"),
        ("demo", "not available over SSH"),
        ("campaigns 'list", "unclosed quote"),
    ],
)
def test_anything_else_is_refused(command, words):
    with pytest.raises(Refused, match=words.replace("|", r"\|")):
        forced_argv(["--config", "/etc/c.toml"], COMMANDS, {"SSH_ORIGINAL_COMMAND": command})


def test_a_command_of_its_own_ignores_ssh_original_command():
    """Only a forced command naming no subcommand takes the client's words."""
    argv = ["campaigns", "list", "--config", "/etc/c.toml"]
    assert forced_argv(argv, COMMANDS, {"SSH_ORIGINAL_COMMAND": "sh -c id"}) == argv
    assert forced_argv(["--config", "x"], COMMANDS, {}) == ["--config", "x"]


@pytest.mark.parametrize(
    "command, code, words",
    [
        ("sh -c id", 2, ["“sh” is not a clinicast command"]),
        ("scp -t .", 2, ["“scp” is not a clinicast command"]),
        ("; id", 2, ["shell syntax"]),
        ("campaigns list --config /dev/stdin", 2, ["--config"]),
        ("campaigns launch 1", 2, ["No such command 'launch'"]),
        ("campaigns show 999", 2, ["no campaign with id 999"]),
    ],
)
def test_refusals_are_one_line_with_their_exit_code(clinic, command, code, words):
    config, _cid = clinic
    one_line(forced(config, command), code, *words)


def test_a_staff_member_without_the_permission_is_refused_in_one_line(clinic, tmp_path):
    config, cid = clinic
    text = config.read_text().replace('permissions = ["campaigns", "admin"]', 'permissions = ["campaigns"]')
    config.write_text(text)
    one_line(forced(config, "patients import -", stdin=b"emr_id\n1\n"), 1, "lacks the 'admin' permission")
    ok(forced(config, f"recipients list {cid}"))  # campaigns: allowed


# --- files through the connection -------------------------------------------------------------


def test_a_list_in_through_stdin_and_the_ledger_out_through_stdout(clinic):
    config, cid = clinic
    ids = b"emr_id\r\n" + b"".join(f"{1000 + i}\r\n".encode() for i in range(20)) + b"4242\r\n"
    res = ok(forced(config, f"recipients add {cid} --csv - --json", stdin=ids))
    assert json.loads(res.stdout) == {
        "added": 20,
        "already_assigned": 0,
        "skipped": 0,
        "skipped_reasons": {},
        "not_found": ["4242"],
    }
    ledger = ok(forced(config, f"recipients list {cid} --csv")).stdout.decode()
    lines = ledger.strip().splitlines()
    assert lines[0].startswith("\ufeffemr_id,name,status") and len(lines) == 21
    # the same audit as at the server: the export is recorded under the staff member's login
    audit = json.loads(ok(forced(config, "audit --json")).stdout)
    assert [(a["user"], a["action"]) for a in audit][-2:] == [(LOGIN, "assign"), (LOGIN, "export")]


def test_a_bad_list_through_stdin_names_the_line_and_changes_nothing(clinic):
    config, cid = clinic
    res = forced(config, f"recipients add {cid} --csv -", stdin=b"emr_id,x\n1000,1\n1001\n")
    assert res.returncode == 2 and res.stderr.decode().splitlines() == [  # a summary, then each bad line
        "clinicast: stdin: 1 bad line, nothing assigned",
        "clinicast: stdin:3: expected 2 fields like the header, got 1 (is a comma or a quote unbalanced?)",
    ], res.stderr
    assert json.loads(ok(forced(config, f"recipients list {cid} --json")).stdout) == []


def test_stdin_that_is_a_terminal_is_refused_not_waited_on(clinic):
    config, cid = clinic
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "--config", str(config), "recipients", "add", str(cid), "--csv", "-"],
            stdin=secondary,
            capture_output=True,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    one_line(proc, 2, "standard input", "terminal")


def test_output_file_is_written_owner_only_whatever_the_umask(clinic, tmp_path):
    """At the server's terminal (over SSH, --output names no server file: see below)."""
    config, cid = clinic
    here = lambda *words, **kw: forced(config, None, user_args=words, **kw)  # noqa: E731
    ok(forced(config, f"recipients add {cid} --patient 1000"))
    out = tmp_path / "ledger.csv"
    out.write_text("old\n")
    os.chmod(out, 0o644)  # a file the shell made before
    ok(here("recipients", "list", str(cid), "--csv", "--output", str(out), umask=0o022))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("\ufeffemr_id,") and "1000" in out.read_text()
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    one_line(here("recipients", "list", str(cid), "--csv", "--output", str(link)), 2, str(link))
    assert not (tmp_path / "elsewhere.csv").exists()


def test_a_file_named_over_ssh_is_on_the_staff_member_s_computer_and_the_error_says_how(clinic):
    """`ssh clinic recipients add 3 --csv liste.csv` — the file is on their computer, the
    command runs on the server: one line says so and gives the command that brings it
    through the connection; nothing is added."""
    config, cid = clinic
    err = one_line(forced(config, f"recipients add {cid} --csv 'ma liste.csv'"), 2, "ma liste.csv: over SSH")
    assert f"ssh clinic recipients add {cid} --csv - < 'ma liste.csv'" in err, err
    assert json.loads(ok(forced(config, f"recipients list {cid} --json")).stdout) == []
    # on the server itself (no SSH_ORIGINAL_COMMAND) the error stays the plain one
    res = subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(config), "recipients", "add", str(cid), "--csv", "nowhere.csv"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "SSH_ORIGINAL_COMMAND"},
    )
    assert "ssh clinic" not in one_line(res, 2, "nowhere.csv: no such file")


# --- no file of the server over SSH -----------------------------------------------------------
# A staff member under ForceCommand has no shell: a path in their command named a file of
# the server, read or written as them (`--csv /etc/passwd` came back as « unknown ids »).
# Each case calls clinicast's main in-process, with the environment sshd gives a forced command.

SECRET = "S3CRET-4711"  # in a file of the server the staff login can read (another's export)


@pytest.fixture(scope="module")
def server_world(tmp_path_factory):
    """A config, its database and campaign #1 (made at the server's terminal), and a file of
    the server the staff member's login can read; made once: the refusals change nothing."""
    from click.testing import CliRunner

    from cli import cli

    folder = tmp_path_factory.mktemp("server")
    config = write_config(folder, f"sqlite:///{(folder / 'clinicast.db').as_posix().lstrip('/')}")
    for args in (["init"], ["campaigns", "create", "--kind", "invitation", "--name", "Rappel"]):
        res = CliRunner().invoke(cli, [*args, "--config", str(config)], obj={})
        assert res.exit_code == 0, res.output
    secret = folder / "export-of-another.csv"
    secret.write_text(f"emr_id\n{SECRET}\n")
    return config, secret


@pytest.fixture
def served(server_world, monkeypatch):
    """The world, and `client(command)`: clinicast's main run in-process as sshd runs the
    forced command, the client having asked for `command` -> its exit code."""
    from cli import main
    from core import infile

    config, secret = server_world
    monkeypatch.setattr(infile, "on_stdin_wait", None)  # main sets it over SSH: this test's only

    def client(command):
        monkeypatch.setenv("SSH_ORIGINAL_COMMAND", command)
        with pytest.raises(SystemExit) as ended:
            main(["--config", str(config)])
        return ended.value.code

    return config, secret, client


def database_rows(config) -> list[str]:
    import sqlite3

    with sqlite3.connect(config.parent / "clinicast.db") as db:
        return list(db.iterdump())


@pytest.mark.parametrize(
    "typed, retyped",
    [
        ("recipients add 1 --csv {f}", "ssh clinic recipients add 1 --csv - < {f}"),
        ("recipients add 1 --csv={f} --json", "ssh clinic recipients add 1 --csv=- --json < {f}"),
        ("patients import {f}", "ssh clinic patients import - < {f}"),
        (
            "campaigns create --kind invitation --name 'Rappel vaccin' --template {f}",
            "ssh clinic \"campaigns create --kind invitation --name 'Rappel vaccin' --template -\" < {f}",
        ),
        ("campaigns edit 1 --template {f}", "ssh clinic campaigns edit 1 --template - < {f}"),
    ],
)
def test_a_server_file_named_over_ssh_is_refused_unread(served, capsys, typed, retyped):
    """`ssh clinic recipients add 1 --csv /etc/passwd`: a file of the server was read as the
    staff member and its lines came back as unknown ids. Refused in one line, exit 2, with
    the command that sends a file of their computer; nothing read, nothing changed."""
    config, secret, client = served
    before = database_rows(config)
    assert client(typed.format(f=secret)) == 2
    out, err = capsys.readouterr()
    assert f"{secret}: over SSH clinicast reads no file on the server" in err, err
    assert retyped.format(f=secret) in err and len(err.strip().splitlines()) == 1, err
    assert SECRET not in out + err and out == ""
    assert database_rows(config) == before


@pytest.mark.parametrize("name", ["absent.csv", "/etc", "/dev/zero"])
def test_a_server_path_over_ssh_is_refused_before_it_is_looked_at(served, capsys, name):
    """Whether a server path exists, is a folder or a device is not said either (click's
    « is a directory », core's « no such file »): the same refusal for every path."""
    _config, _secret, client = served
    assert client(f"recipients add 1 --csv {name}") == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"clinicast: {name}: over SSH clinicast reads no file on the server; a file on your computer "
        f"comes through the connection: ssh clinic recipients add 1 --csv - < {name}"
    ), err


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("recipients add 1 --csv 'a\nb\x1b[2J.csv'", "ssh clinic recipients add 1 --csv - < 'a\\nb\\x1b[2J.csv'"),
        ("recipients list 1 --csv -o 'a\r\nb.csv'", "ssh clinic recipients list 1 --csv > 'a\\r\\nb.csv'"),
    ],
)
def test_a_refused_path_s_control_characters_are_shown_escaped(served, capsys, typed, shown):
    """A path holding a line feed (or a terminal escape) was escaped where the refusal named
    it, but not in the command retyped after it: the « one line » came out on two, and an
    escape reached the terminal raw. Shown escaped in both, as every value a person typed."""
    _config, _secret, client = served
    assert client(typed) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "\x1b" not in err and "\r" not in err, repr(err)
    assert err.strip().endswith(shown), repr(err)


@pytest.mark.parametrize(
    "typed, retyped",
    [
        ("recipients list 1 --csv --output {f}", "ssh clinic recipients list 1 --csv > {f}"),
        ("recipients list 1 --json -o {f}", "ssh clinic recipients list 1 --json > {f}"),
        ("recipients list 1 --csv --output={f}", "ssh clinic recipients list 1 --csv > {f}"),
        ("recipients list 1 --csv -o{f}", "ssh clinic recipients list 1 --csv > {f}"),
        ("audit --csv --output {f}", "ssh clinic audit --csv > {f}"),
    ],
)
def test_an_export_over_ssh_writes_no_server_file(served, capsys, typed, retyped):
    """`--output /some/server/path` wrote a server file as the staff member (over another's
    file their login can write, or one left for others to find): refused in one line, exit
    2, with the command that brings the export to their computer; nothing written."""
    config, _secret, client = served
    target = config.parent / "theirs.csv"
    target.write_text("kept\n")
    assert client(typed.format(f=target)) == 2
    out, err = capsys.readouterr()
    assert f"{target}: over SSH clinicast writes no file on the server" in err, err
    assert retyped.format(f=target) in err and len(err.strip().splitlines()) == 1 and out == "", err
    assert target.read_text() == "kept\n"
    target.unlink()


def test_the_connection_is_still_the_way_in_and_out(served, capsys, monkeypatch):
    """`-` is the SSH connection: `--csv - < liste.csv`, `--output -` (stdout)."""
    config, secret, client = served
    with secret.open("rb") as sent:
        monkeypatch.setattr(sys, "stdin", sent)
        assert client("recipients add 1 --csv -") == 2  # read: its one id is no patient here
    assert "stdin: the EMR id is not in the patient directory" in capsys.readouterr().err
    assert client("recipients list 1 --csv --output -") == 0
    assert capsys.readouterr().out.startswith("\ufeffemr_id,")


def test_files_on_the_server_stay_open_at_the_server_s_own_terminal(served, capsys, monkeypatch):
    """An administrator at the server (SSH_CONNECTION alone: a shell over SSH, no forced
    command) and a forced command that names its own subcommand and file: their paths
    are read and written as before."""
    from cli import main

    config, secret, _client = served
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 50000 192.0.2.1 22")
    monkeypatch.delenv("SSH_ORIGINAL_COMMAND", raising=False)
    with pytest.raises(SystemExit):
        main(["--config", str(config), "recipients", "add", "1", "--csv", str(secret)])
    assert "not in the patient directory" in capsys.readouterr().err  # read: its one id is unknown here
    out = config.parent / "ledger.csv"
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "campaigns list")  # the forced command's words win
    with pytest.raises(SystemExit) as ended:
        main(["--config", str(config), "recipients", "list", "1", "--csv", "--output", str(out)])
    assert ended.value.code == 0 and out.read_text().startswith("\ufeffemr_id,")
    out.unlink()


# --- no terminal, no command ------------------------------------------------------------------


def test_no_terminal_and_no_command_says_how_and_never_draws_a_tui(clinic):
    config, _cid = clinic
    res = forced(config)  # ssh -T clinic: stdin and stdout are pipes
    one_line(res, 2, "no terminal", "ssh SERVER campaigns list")
    assert res.stdout == b""  # no escape sequence drawn into the pipe
    one_line(forced(config, ""), 2, "no terminal")  # ssh clinic ''


# --- config check only looks ------------------------------------------------------------------


def test_config_check_before_init_creates_nothing(tmp_path):
    folder = tmp_path / "var" / "clinicast"
    config = write_config(tmp_path, f"sqlite:///{(folder / 'clinicast.db').as_posix().lstrip('/')}")
    res = forced(config, "config check")
    assert res.returncode == 1, res
    assert b"does not exist yet: run `clinicast init`" in res.stdout
    assert not (tmp_path / "var").exists()
    folder.mkdir(parents=True)
    forced(config, "config check")
    assert list(folder.iterdir()) == []


def test_config_check_after_init_leaves_no_wal_behind(clinic):
    config, _cid = clinic
    db = config.parent / "clinicast.db"
    before = sorted(p.name for p in config.parent.iterdir())
    res = ok(forced(config, "config check"))
    assert b"schema version" in res.stdout
    assert sorted(p.name for p in config.parent.iterdir()) == before
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


def test_root_is_refused_with_who_administers(tmp_path, sqlite_url):
    if os.geteuid() != 0:
        pytest.skip("the refusal is root's")
    config = write_config(tmp_path, sqlite_url, users='[users.nobody]\nname = "N"\npermissions = ["campaigns"]\n')
    config.write_text(config.read_text().replace('default_language = "fr"', 'default_language = "en"'))
    ok(forced(config, "init"))
    err = one_line(forced(config, "campaigns list"), 1, "root is not a clinicast user", 'permissions = ["admin"]')
    assert "runuser -u" in err and "service account" in err


def test_files_others_can_read_are_named_with_the_chmod(clinic):
    config, _cid = clinic
    db = config.parent / "clinicast.db"
    mail = config.parent / "maildir" / "new"
    mail.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (mail / f"m{i}.eml").write_text("x")
        os.chmod(mail / f"m{i}.eml", 0o644)
    os.chmod(db, 0o644)
    check = forced(config, "config check").stdout.decode()
    assert f"chmod o-rwx {db}" in check and f"chmod -R o-rwx {config.parent / 'maildir'}" in check, check
    status = json.loads(ok(forced(config, "status --json")).stdout)
    assert {"path": str(db), "mode": "0644", "files": 1, "fix": f"chmod o-rwx {db}"} in status["open_to_others"]
    os.chmod(db, 0o660)
    subprocess.run(["chmod", "-R", "o-rwx", str(config.parent / "maildir")], check=True)
    assert "open_to_others" in (s := json.loads(ok(forced(config, "status --json")).stdout)) and not s["open_to_others"]


def test_the_audit_export_is_written_owner_only_too(clinic, tmp_path):
    config, _cid = clinic
    out = tmp_path / "audit.csv"
    ok(forced(config, None, user_args=("audit", "--csv", "--output", str(out)), umask=0o022))  # at the server
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text().startswith("\ufeffid,at,user,action")


@pytest.mark.parametrize(
    "words",
    [
        ["recipients", "list", "3", "--csv"],
        ["campaigns", "create", "--kind", "invitation", "--name", "Rappel vaccin"],
        ["recipients", "add", "3", "--where", "age >= 65"],
        ["campaigns", "create", "--name", "Rejoignez l'app"],
        ["campaigns", "create", "--name", 'A "B" $x \\ y!'],
        ["campaigns", "create", "--name", ""],
    ],
)
def test_a_command_given_to_type_over_ssh_reaches_the_server_as_these_words(words):
    """core.ssh.ssh_command's line is split twice: by the staff member's shell, then by
    the server (cli.ssh.split) after ssh joined the words with spaces. A value with a space
    was quoted once: « Rappel vaccin » reached the server as two words."""
    import shlex

    from core.ssh import ssh_command

    line = ssh_command(words)
    typed = shlex.split(line)  # the staff member's shell
    assert typed[:2] == ["ssh", "clinic"], line
    assert split(" ".join(typed[2:])) == words, line


def test_the_empty_campaign_list_gives_the_create_command_staff_can_type(tmp_path, sqlite_url):
    """Over SSH the hint said `clinicast campaigns create …`, a command the receptionist's
    computer does not have; it is the `ssh clinic …` one there, `clinicast …` at the server."""
    config = write_config(tmp_path, sqlite_url)
    ok(forced(config, "init"))
    said = ok(forced(config, "campaigns list")).stdout.decode()
    assert said.strip() == "no campaigns yet: ssh clinic campaigns create --kind invitation --name NAME", said
    here = ok(forced(config, None, user_args=("campaigns", "list"))).stdout.decode()
    assert here.strip() == "no campaigns yet: clinicast campaigns create --kind invitation --name NAME", here


def test_stdin_that_is_a_terminal_over_ssh_names_ssh_t(clinic):
    """`ssh -tt clinic recipients add 3 --csv - < liste.csv` (or RequestTTY force): the
    file went through the terminal ssh made, and the refusal told her to add the
    `< liste.csv` she had given; it names the -t to leave out."""
    config, cid = clinic
    primary, secondary = pty.openpty()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(config.parent)}
    env |= {"SSH_ORIGINAL_COMMAND": f"recipients add {cid} --csv -", "SSH_CONNECTION": "192.0.2.7 5 192.0.2.1 22"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "--config", str(config)],
            stdin=secondary, capture_output=True, cwd=ROOT, timeout=60, env=env,
        )  # fmt: skip
    finally:
        os.close(primary)
        os.close(secondary)
    one_line(proc, 2, "standard input", "ssh -t", "without -t")


@pytest.mark.parametrize(
    "typed, fixed",
    [
        ("recipients add {cid} --csv \u2013", "ssh clinic recipients add {cid} --csv -"),  # en dash for stdin
        ("campaigns list \u2014json", "ssh clinic campaigns list --json"),  # em dash for --
        ("recipients list {cid} \u2013-csv", "ssh clinic recipients list {cid} --csv"),
    ],
)
def test_a_command_copied_from_a_word_processor_names_its_typographic_dash(clinic, typed, fixed):
    """A command pasted from an email or a document, whose `-` became `–` or `—`: `--csv –`
    was taken for a file named « – » on the server, and the error offered `--csv - < '–'`;
    `—json` was an « unexpected extra argument ». Refused in one line, exit 2, with the
    command typed with the - key; nothing read or assigned."""
    config, cid = clinic
    res = forced(config, typed.format(cid=cid), stdin=b"emr_id\n1000\n")
    err = one_line(res, 2, "typographic dash", fixed.format(cid=cid))
    assert "< '" not in err, err
    assert json.loads(ok(forced(config, f"recipients list {cid} --json")).stdout) == []
    assert ok(forced(config, fixed.format(cid=cid).removeprefix("ssh clinic "), stdin=b"emr_id\n1000\n"))
    # a value that merely holds a dash is the staff member's own
    made = forced(config, "campaigns create --kind invitation --name '\u2014 sp\u00e9cial' --json")
    assert json.loads(ok(made).stdout)["name"] == "\u2014 sp\u00e9cial"

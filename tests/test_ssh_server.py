"""Staff over SSH for real (issue #19, SPEC §13): deploy/install.sh with its own OS users
(tests/test_server_install.py's fixture), then Debian's OpenSSH server on a loopback port
with the installed `Match Group … ForceCommand clinicast`, and two staff members using
it from the client side as a clinic would: a CSV of 5,000 ids in through the connection,
the ledger back, `ssh -T` with no command, a killed client, refusals in one line, an
audit row deleted with sqlite3 by a staff member with a shell and found by `audit verify`.

Runs as root (as CI does) with /usr/sbin/sshd (.ci/run installs openssh-server); the OS
users are removed after, even on failure.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import select
import shlex
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from test_server_install import (
    ENV,
    SCRIPT,
    _run,
    cli,
    configure,
    mode,
    one_line,
    owner,
    patients_csv,
    pytestmark_root,
    server,
    strict_umask,
    wait_for,
)

__all__ = ["server", "strict_umask"]  # the install fixture and the pinned umask, shared

SSHD = "/usr/sbin/sshd"

pytestmark = [
    pytestmark_root,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(SSHD) or not shutil.which("ssh"), reason="needs openssh-server"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(server):
    """sshd on 127.0.0.1:PORT with the installed clinicast.conf included; a key per staff member."""
    s = server
    configure(s, "http://127.0.0.1:9")  # the staff read English (language = "en" in their entries)
    # sshd reads a user's authorized keys AS that user: the folders and key files are
    # opened to them by mode, never by the umask of whoever made them (see strict_umask)
    root = s.root / "ssh"
    keys = root / "keys"
    for d in (root, keys):
        d.mkdir()
        os.chmod(d, 0o755)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")], check=True)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "client_key")], check=True)
    for login in (s.staff1, s.staff2):
        shutil.copy(root / "client_key.pub", keys / login)
        os.chmod(keys / login, 0o644)
        _run(["usermod", "-p", "*", login], check=True)  # no password, not locked: keys only
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\nPidFile {root / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {keys}/%u\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin no\nAcceptEnv LANG LC_*\n"
        "Subsystem sftp internal-sftp\n"
        f"Include {s.root / 'sshd' / 'clinicast.conf'}\n"
    )
    check = _run([SSHD, "-t", "-f", str(config)])
    assert check.returncode == 0, check.stderr
    # the umask systemd gives ssh.service, which its sessions inherit (UsePAM no)
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.umask(0o022)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as c:
            if c.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    s.ssh_port, s.ssh_key = port, root / "client_key"
    try:
        yield s
    finally:
        proc.terminate()
        proc.wait(10)


def ssh(s, user, *words, stdin=b"", tty=False, timeout=300):
    """`ssh user@127.0.0.1 WORDS` from the staff member's computer (here: root's client)."""
    cmd = ["ssh", *client_options(s), "-tt" if tty else "-T", f"{user}@127.0.0.1", *words]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=ENV)


def client_options(s):
    return [
        "-F", "/dev/null", "-i", str(s.ssh_key), "-p", str(s.ssh_port), "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    ]  # fmt: skip


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout[-2000:], res.stderr)
    return res


def staff_processes(user) -> list[str]:
    out = _run(["pgrep", "-a", "-u", user])
    return [line for line in out.stdout.splitlines() if "clinicast" in line]


def test_a_list_of_5000_in_and_the_ledger_back_through_ssh(sshd):
    s = sshd
    n = 5000
    imported = ok(ssh(s, s.staff1, "patients", "import", "-", stdin=patients_csv(s, "5000.csv", n).read_bytes()))
    assert "stdin: 5,000 patients" in imported.stdout.decode()  # English, as the staff read it
    created = ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'Rejoignez l’app' --json"))
    cid = json.loads(created.stdout)["id"]
    ids = ("N° dossier\r\n" + "".join(f"{2000 + i}\r\n" for i in range(n))).encode("cp1252")  # Excel's CSV
    added = ok(ssh(s, s.staff2, "recipients", "add", str(cid), "--csv", "-", "--json", stdin=ids))
    assert json.loads(added.stdout) == {
        "added": n,
        "already_assigned": 0,
        "skipped": 0,
        "skipped_reasons": {},
        "not_found": [],
    }
    ledger = ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--csv")).stdout.decode("utf-8")
    lines = ledger.splitlines()
    assert lines[0].startswith("\ufeffemr_id,name,status") and len(lines) == n + 1  # a BOM: Excel reads UTF-8
    assert {line.split(",")[0] for line in lines[1:]} == {str(2000 + i) for i in range(n)}
    trail = json.loads(ok(ssh(s, s.staff1, "audit", "--json")).stdout)
    mine = [(a["user"], a["action"]) for a in trail if a["user"] == s.staff2]
    assert ("assign" in {x for _u, x in mine}) and ("export" in {x for _u, x in mine}), mine


@pytest.mark.parametrize(
    "who, words, code, said",
    [
        ("staff2", ["campaigns", "list"], 0, None),
        ("staff2", ["sh", "-c", "id"], 2, "“sh” is not a clinicast command"),
        ("staff2", ["scp", "-t", "."], 2, "“scp” is not a clinicast command"),
        ("staff2", ["/usr/lib/openssh/sftp-server"], 2, "is not a clinicast command"),
        ("staff2", ["; id"], 2, "shell syntax"),
        ("staff2", ["campaigns list && id"], 2, "shell syntax"),
        ("staff2", ["campaigns", "list", "--config", "/dev/stdin"], 2, "--config"),
        ("staff2", ["frobnicate"], 2, "“frobnicate” is not a clinicast command"),
        ("staff2", ["daemon"], 2, "not available over SSH"),
        ("staff2", ["patients", "import", "-"], 1, "lacks the 'admin' permission"),  # campaigns only
        ("staff1", ["audit", "verify"], 0, None),
        # a file on the staff member's computer, named as if the command ran there
        ("staff2", ["recipients", "add", "1", "--csv", "liste.csv"], 2, "recipients add 1 --csv - < liste.csv"),
    ],
)
def test_ssh_original_command_cases(sshd, who, words, code, said):
    s = sshd
    user = s.staff1 if who == "staff1" else s.staff2
    res = ssh(s, user, *words, stdin=b"emr_id\n1\n")
    if said is None:
        ok(res)
        return
    one_line(_text(res), code, said)


def _text(res):
    return subprocess.CompletedProcess(res.args, res.returncode, res.stdout.decode(), res.stderr.decode())


def test_scp_and_sftp_end_at_once_instead_of_hanging(sshd, tmp_path):
    s = sshd
    f = tmp_path / "liste.csv"
    f.write_text("emr_id\n1\n")
    opts = client_options(s)
    port = opts.index("-p")
    scp_opts = [*opts[:port], "-P", opts[port + 1], *opts[port + 2 :]]
    for legacy in ([], ["-O"]):  # SFTP (scp's default), then the old protocol (`scp -t` as the command)
        res = subprocess.run(
            ["scp", *legacy, *scp_opts, str(f), f"{s.staff2}@127.0.0.1:"], capture_output=True, timeout=60
        )
        assert res.returncode != 0, res.stderr  # refused at once: no hang, nothing written
        if legacy:
            assert "“scp” is not a clinicast command".encode() in res.stderr, res.stderr
    assert not list(Path(f"/home/{s.staff2}").glob("liste.csv"))


def test_ssh_T_without_a_command_says_how_to_use_it(sshd):
    s = sshd
    res = _text(ssh(s, s.staff2))
    one_line(res, 2, "no terminal", "ssh SERVER campaigns list")
    assert res.stdout == ""
    assert not staff_processes(s.staff2)
    # the command it gives for the list of commands, typed at a real ssh client, reaches
    # clinicast (`ssh SERVER --help` was ssh's own usage, exit 255)
    listed = res.stderr.split("(ssh SERVER ", 1)[1].split(" lists them)", 1)[0]
    helped = _text(ssh(s, s.staff2, *shlex.split(listed)))
    assert helped.returncode == 0 and "recipients" in helped.stdout and "campaigns" in helped.stdout, helped


def test_a_name_with_a_space_typed_as_at_a_terminal_is_told_how_to_quote_it(sshd):
    """`ssh clinic campaigns create --name "Rappel vaccin"` (the README's example, quoted as
    at a terminal) reached the server as two words: « Argument en trop (vaccin) (voir
    clinicast campaigns create --help) », a command staff cannot run. The error gives the
    help they can reach and the command quoted twice; both, typed as given, work."""
    s = sshd
    before = json.loads(ok(ssh(s, s.staff2, "campaigns", "list", "--json")).stdout)
    res = _text(ssh(s, s.staff2, "campaigns", "create", "--kind", "invitation", "--name", "Rappel vaccin"))
    one_line(res, 2, "unexpected extra argument", "quoted twice")
    said = re.search(r"\(see (ssh clinic .*?); over SSH .*?: (ssh clinic .*)\)$", res.stderr.strip())
    helped, example = said.groups()
    assert json.loads(ok(ssh(s, s.staff2, "campaigns", "list", "--json")).stdout) == before  # nothing created
    assert "Usage" in ok(ssh(s, s.staff2, *shlex.split(helped)[2:])).stdout.decode()
    ok(ssh(s, s.staff2, *shlex.split(example)[2:]))
    names = [c["name"] for c in json.loads(ok(ssh(s, s.staff2, "campaigns", "list", "--json")).stdout)]
    assert names.count("Flu clinic") == 1, names
    # an apostrophe alone (« Rejoignez l'app ») opens a quote on the server that never closes
    res = _text(ssh(s, s.staff2, "campaigns", "create", "--kind", "invitation", "--name", "Rejoignez l'app"))
    one_line(res, 2, "unclosed quote", "quoted twice: ssh clinic")


def test_a_killed_ssh_client_ends_the_tui(sshd):
    s = sshd
    client = subprocess.Popen(
        ["ssh", *client_options(s), "-tt", f"{s.staff2}@127.0.0.1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=ENV | {"TERM": "xterm-256color"},
    )
    drawn = bytearray()

    def read():
        while chunk := client.stdout.read1(65536):
            drawn.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and b"Campaigns" not in drawn and b"Campagnes" not in drawn:
            time.sleep(0.2)
        assert b"\x1b[?1049h" in drawn and staff_processes(s.staff2), bytes(drawn[-500:])
        client.kill()  # the laptop's lid closes: the connection drops
        client.wait(10)
        killed_at = time.monotonic()
        while staff_processes(s.staff2) and time.monotonic() - killed_at < 30:
            time.sleep(0.2)
        took = time.monotonic() - killed_at
        assert not staff_processes(s.staff2), staff_processes(s.staff2)
        assert took < 15, f"the TUI outlived its connection by {took:.1f} s"
    finally:
        if client.poll() is None:
            client.kill()


def test_a_connection_dropped_mid_file_changes_nothing(sshd):
    """The laptop closes while `ssh clinic recipients add ID --csv - < liste.csv` (or a
    patient import) is sending: sshd ends and clinicast's standard input ends with it,
    like a file's end. The part that came — cut at a line's end here, so every row of it
    is valid — was assigned or imported as if it were the whole file."""
    s = sshd
    cid = json.loads(ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'coupée' --json")).stdout)["id"]
    count = lambda: json.loads(ok(ssh(s, s.staff1, "status", "--json")).stdout)["patients"]  # noqa: E731
    before = count()
    header = "emr_id,first_name,last_name,date_of_birth,language,email,app_id\n"
    rows = [f"{70000 + i},Coupé{i},Nom{i},1980-03-{1 + i % 28:02d},fr,k{i}@example.org,\n" for i in range(400)]
    ok(ssh(s, s.staff1, "patients", "import", "-", stdin=(header + "".join(rows[:200])).encode()))
    assert count() == before + 200
    ids = "N° dossier\r\n" + "".join(f"{70000 + i}\r\n" for i in range(200))
    for user, words, first_part in (
        (s.staff2, ["recipients", "add", str(cid), "--csv", "-"], ids[: ids.index("70100")]),
        (s.staff1, ["patients", "import", "-"], header + "".join(rows[200:300])),
    ):
        client = subprocess.Popen(
            ["ssh", *client_options(s), "-T", f"{user}@127.0.0.1", *words],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
        )  # fmt: skip
        try:
            client.stdin.write(first_part.encode("cp1252"))
            client.stdin.flush()  # the rest never comes: the client is killed before
            assert wait_for(lambda u=user: staff_processes(u), 60), "clinicast never started"
            time.sleep(3)  # what was sent is read and clinicast waits for more
            client.kill()
            client.wait(10)
        finally:
            if client.poll() is None:
                client.kill()
        assert wait_for(lambda u=user: not staff_processes(u), 30), staff_processes(user)
    assert json.loads(ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--json")).stdout) == []
    assert count() == before + 200
    # the same files sent whole go in: a client's end of file is not a dropped connection
    ok(ssh(s, s.staff2, "recipients", "add", str(cid), "--csv", "-", stdin=ids.encode("cp1252")))
    assert len(json.loads(ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--json")).stdout)) == 200


def test_a_file_forgotten_after_the_dash_is_asked_for_not_waited_for_in_silence(sshd):
    """`ssh clinic recipients add ID --csv -` typed without `< liste.csv`: the standard
    input is the receptionist's keyboard and clinicast waited for it without a word. After
    a few seconds it says what it waits for and the command that sends the file; what is
    typed then (ids, ctrl+D) is still a list."""
    s = sshd
    cid = json.loads(ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'oubli' --json")).stdout)["id"]
    ok(ssh(s, s.staff1, "patients", "import", "-", stdin=patients_csv(s, "oubli.csv", 3).read_bytes()))
    client = subprocess.Popen(
        ["ssh", *client_options(s), "-T", f"{s.staff2}@127.0.0.1", "recipients", "add", str(cid), "--csv", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
    )  # fmt: skip
    try:
        # the keyboard gives nothing: said within seconds (a line on stderr, the read going on)
        assert select.select([client.stderr], [], [], 30)[0], "nothing said: a silent wait"
        line = client.stderr.readline().decode()
        assert "waiting for a CSV file on the standard input" in line, line
        assert f"ssh clinic recipients add {cid} --csv - < list.csv" in line, line
        assert client.poll() is None  # still reading: typed ids are a list too
        out, err = client.communicate(b"2001\n", timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, (out, err)
    assert "1 added" in out.decode(), out
    assert [r["emr_id"] for r in json.loads(ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--json")).stdout)] == [
        "2001"
    ]


def test_an_export_over_the_database_s_own_files_is_refused(sshd):
    """A staff member's session open all day (here a command waiting for its list) opened
    the database first: the WAL and shared-memory files are theirs. `--output
    clinicast.db-wal` over SSH — a staff member with the campaigns permission only —
    truncated the WAL to a CSV owner-only: the changes in it lost and every command of
    every staff member refused after. Over SSH no file of the server is written now (the
    export comes through the connection); at the server's terminal the database's own
    files are refused (tests/test_audit_read.py)."""
    s = sshd
    cid = json.loads(ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'wal' --json")).stdout)["id"]
    before = ok(ssh(s, s.staff1, "campaigns", "list", "--json")).stdout
    holder = subprocess.Popen(
        ["ssh", *client_options(s), "-T", f"{s.staff2}@127.0.0.1", "recipients", "add", str(cid), "--csv", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
    )  # fmt: skip
    wal = Path(f"{s.db}-wal")
    try:
        assert wait_for(lambda: wal.exists() and owner(wal)[0] == s.staff2, 60), "the session holds the database"
        for target in (wal, Path(f"{s.db}-shm"), s.db, Path(f"{s.db}-journal")):
            res = _text(ssh(s, s.staff2, "recipients", "list", str(cid), "--csv", "--output", str(target)))
            one_line(res, 2, "over SSH clinicast writes no file on the server", "--csv > ")
        assert mode(wal) == 0o660, oct(mode(wal))
    finally:
        holder.stdin.close()
        holder.wait(60)
    assert not Path(f"{s.db}-journal").exists()
    assert ok(ssh(s, s.staff1, "campaigns", "list", "--json")).stdout == before
    ok(ssh(s, s.staff1, "audit", "verify"))


class SshTerminal:
    """A staff member's terminal (tmux) running `ssh -tt` into the server: the TUI over a
    real connection, keys typed, a list pasted (tmux sends a bracketed paste when the app
    asked for it, as terminals do)."""

    def __init__(self, s, user):
        self.sock = "clinicast-ssh-" + uuid.uuid4().hex[:8]
        command = shlex.join(["ssh", *client_options(s), "-tt", f"{user}@127.0.0.1"])
        env = ENV | {"TERM": "xterm-256color"}
        self.tmux("new-session", "-d", "-x", "120", "-y", "35", "-s", "t", command, env=env)

    def tmux(self, *args, env=None):
        return _run(["tmux", "-L", self.sock, *args], env=env or ENV, timeout=30)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def wait_for(self, text, timeout=120) -> bool:
        return wait_for(lambda: text in self.screen(), timeout)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)

    def paste(self, text):
        self.tmux("set-buffer", "-b", "pasted", text)
        self.tmux("paste-buffer", "-p", "-r", "-d", "-b", "pasted", "-t", "t")  # -r: line ends as copied

    def close(self):
        self.tmux("kill-server")  # this test's own tmux server (its socket is unique): ssh drops
        sock = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / self.sock
        sock.unlink(missing_ok=True)


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (.ci/run installs it)")
def test_a_list_pasted_in_the_tui_over_ssh(sshd):
    """Over SSH the CSV tab reads no file of the server: the staff member pastes a column
    copied from a spreadsheet into the Add-patients dialog, sees the report, confirms."""
    s = sshd
    n = 300
    rows = "".join(f"{90000 + i},Collé{i},Nom{i},1980-02-{1 + i % 28:02d},fr,c{i}@example.org,\n" for i in range(n))
    csv = "emr_id,first_name,last_name,date_of_birth,language,email,app_id\n" + rows
    ok(ssh(s, s.staff1, "patients", "import", "-", stdin=csv.encode()))
    name = "Collé " + uuid.uuid4().hex[:6]
    cid = json.loads(
        ok(
            ssh(s, s.staff2, shlex.join(["campaigns", "create", "--kind", "invitation", "--name", name, "--json"]))
        ).stdout
    )["id"]
    term = SshTerminal(s, s.staff2)
    try:
        assert term.wait_for("Campaigns"), term.screen()
        term.keys("/")
        assert term.wait_for("filter by name"), term.screen()  # typed before, `e` would be Edit
        term.type(name)
        assert wait_for(lambda: term.screen().count(name) >= 2), term.screen()  # the filter and its one row
        term.keys("Enter")  # from the filter back to the list
        for _ in range(5):  # then open the campaign (an enter that came before the list had focus is lost)
            term.keys("Enter")
            if term.wait_for("Remove", 20):
                break
        assert "Remove" in term.screen(), term.screen()
        term.keys("a")
        assert term.wait_for("CSV file"), term.screen()
        # the list tab first: pasted into the One-patient search (the dialog's first focus)
        # a list keeps only its first line — found here, reported to the TUI's owner
        # (F4 once the dialog shows: a key sent before goes to the screen beneath)
        assert term.wait_for("birth date (YYYY-MM-DD)"), term.screen()
        term.keys("F4")
        csv_tab = lambda: "Paste EMR ids here" in (t := term.screen()) and "birth date (YYYY" not in t  # noqa: E731
        assert wait_for(csv_tab, 60), term.screen()
        term.paste("N° dossier\r\n" + "".join(f"{90000 + i}\r\n" for i in range(n)))
        assert term.wait_for(f"{n} patients found"), term.screen()
        assert json.loads(ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--json")).stdout) == []
        term.keys("C-o")  # assign (ctrl+s is the same binding; some terminals keep it for XOFF)
        listed = lambda: json.loads(ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--json")).stdout)  # noqa: E731
        assert wait_for(lambda: len(listed()) == n, 60), (len(listed()), term.screen())
        assert {r["emr_id"] for r in listed()} == {str(90000 + i) for i in range(n)}
        # the export over SSH: the command that brings the ledger home, nothing on the server
        term.keys("E")
        shown = f"ssh clinic recipients list {cid} --csv > campaign-{cid}.csv"
        assert term.wait_for(shown, 30), term.screen()
        term.keys("Enter")  # Close, where the focus is
        assert wait_for(lambda: shown not in term.screen(), 30), term.screen()
        home = Path(pwd.getpwnam(s.staff2).pw_dir)
        assert not [*home.glob("campaign-*"), *Path("/").glob("campaign-*")], "written on the server"
        ledger = ok(ssh(s, s.staff2, *shown.split()[2:-2])).stdout.decode("utf-8")  # the command, run
        assert ledger.count("\r\n") == n + 1 and "90000" in ledger
    finally:
        term.close()
    assert wait_for(lambda: not staff_processes(s.staff2), 30), staff_processes(s.staff2)


def test_patient_data_files_stay_closed_to_others_over_ssh(sshd):
    """Item 6 and SPEC §13: a staff member without a shell reads and writes no file of the
    server through clinicast — `--csv /etc/passwd` came back as « unknown ids », `--output`
    wrote a file as them — refused in one line with the command that uses the connection;
    a database file opened to others is warned about, with the chmod, by `status`."""
    s = sshd
    cid = json.loads(ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'export' --json")).stdout)["id"]
    out = Path(f"/home/{s.staff2}/ledger.csv")
    res = _text(ssh(s, s.staff2, "recipients", "list", str(cid), "--csv", "--output", str(out)))
    one_line(res, 2, f"ssh clinic recipients list {cid} --csv > {out}")
    assert not out.exists() and res.stdout == ""
    res = _text(ssh(s, s.staff2, "recipients", "add", str(cid), "--csv", "/etc/passwd"))
    one_line(res, 2, "reads no file on the server", f"ssh clinic recipients add {cid} --csv - < /etc/passwd")
    assert "root" not in res.stdout + res.stderr
    assert json.loads(ok(ssh(s, s.staff2, "recipients", "list", str(cid), "--json")).stdout) == []
    os.chmod(s.db, 0o664)
    try:
        said = ok(ssh(s, s.staff1, "status")).stdout.decode()
        assert str(s.db) in said and "chmod" in said, said
    finally:
        os.chmod(s.db, 0o660)
    assert "chmod" not in ok(ssh(s, s.staff1, "status")).stdout.decode()


def test_an_audit_row_deleted_with_sqlite3_is_found(sshd):
    s = sshd
    kept = s.root / "before-delete.db"
    # three rows at least (this server may have none yet): the daemon's tail check takes its
    # first row on trust, so the deleted one must have a row before it
    for name in ("avant", "pendant", "après"):
        ok(ssh(s, s.staff2, f"campaigns create --kind invitation --name '{name}'"))
    ok(ssh(s, s.staff1, "audit", "verify"))
    shutil.copy2(s.db, kept)  # put back after: the other tests of this server verify the chain
    # a staff member who also has a shell on the host (the folder is theirs to write)
    sql = "DELETE FROM audit_log WHERE id = (SELECT max(id) - 1 FROM audit_log)"
    res = _run(["runuser", "-u", s.staff2, "--", "sqlite3", str(s.db), sql], env=ENV)
    try:
        assert res.returncode == 0, res.stderr
        verify = ssh(s, s.staff1, "audit", "verify")
        assert verify.returncode == 1, verify
        out = verify.stdout.decode()
        assert "is broken in 1 place" in out and "deleted" in out, out
        breaks = json.loads(ssh(s, s.staff1, "audit", "verify", "--json").stdout)["breaks"]
        assert [b["kind"] for b in breaks] == ["deleted"]
        # the daemon checks the tail at each start and logs the break (and still runs)
        daemon = [str(s.bin / "clinicast"), "daemon", "--once", "--config", str(s.config)]
        log = _run(["runuser", "-u", s.service, "--", *daemon], env=ENV, cwd="/")
        assert "event=audit_chain_broken" in log.stderr and "kind=deleted" in log.stderr, log.stderr
    finally:
        uid, gid = os.stat(s.db).st_uid, os.stat(s.db).st_gid
        shutil.copy2(kept, s.db)
        os.chown(s.db, uid, gid)
        kept.unlink()
    ok(ssh(s, s.staff1, "audit", "verify"))


def test_the_newest_audit_rows_deleted_show_against_the_head_the_daemon_kept(sshd):
    """A staff member with a shell deletes the newest rows: the shorter chain verifies, but
    the daemon — its own folder as systemd's StateDirectory gives it, 0700, which staff
    cannot write — finds the row it saw last gone, and says so in its log."""
    s = sshd
    state = s.root / "daemon-state"
    state.mkdir(mode=0o700)
    shutil.chown(state, s.service, s.service)
    daemon = [str(s.bin / "clinicast"), "daemon", "--once", "--config", str(s.config)]

    def as_daemon():
        return _run(["runuser", "-u", s.service, "--", *daemon], env=ENV | {"STATE_DIRECTORY": str(state)}, cwd="/")

    kept = s.root / "before-cut.db"
    shutil.copy2(s.db, kept)  # put back after: the other tests of this server verify the chain
    try:
        ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'coupé 1'"))
        first = as_daemon()
        assert "event=audit_trail_cut" not in first.stderr, first.stderr
        assert (state / "audit-head").exists()
        touch = _run(["runuser", "-u", s.staff2, "--", "touch", str(state / "audit-head")], env=ENV)
        assert touch.returncode != 0, "staff cannot write the daemon's folder"
        ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'coupé 2'"))
        ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'coupé 3'"))
        as_daemon()  # the head moves on to the newest row
        sql = "DELETE FROM audit_log WHERE id >= (SELECT max(id) - 1 FROM audit_log)"
        res = _run(["runuser", "-u", s.staff2, "--", "sqlite3", str(s.db), sql], env=ENV)
        assert res.returncode == 0, res.stderr
        ok(ssh(s, s.staff1, "audit", "verify"))  # a shorter chain verifies
        log = as_daemon()
        assert "event=audit_trail_cut kind=deleted" in log.stderr, log.stderr
    finally:
        uid, gid = os.stat(s.db).st_uid, os.stat(s.db).st_gid
        shutil.copy2(kept, s.db)
        os.chown(s.db, uid, gid)
        kept.unlink()


def test_config_check_by_root_before_init_creates_nothing(server):
    s = server
    configure(s, "http://127.0.0.1:9")  # secrets written: the one problem left is the database not made yet
    fresh = s.root / "fresh"
    fresh.mkdir()
    os.chmod(fresh, 0o2770)  # as install.sh makes the database folder
    shutil.chown(fresh, s.service, s.staff)
    config = s.root / "fresh.toml"
    config.write_text(s.config.read_text().replace(str(s.data), str(fresh)))
    os.chmod(config, 0o640)  # as install.sh leaves the config: root, read by the staff group
    shutil.chown(config, "root", s.staff)
    res = _run([str(s.bin / "clinicast"), "config", "check", "--config", str(config)], env=ENV, cwd="/")
    assert res.returncode == 1 and f"{fresh / 'clinicast.db'}" in res.stdout, res.stdout + res.stderr
    assert "clinicast init" in res.stdout
    assert list(fresh.iterdir()) == []
    init = _run(["runuser", "-u", s.service, "--", str(s.bin / "clinicast"), "init", "--config", str(config)], env=ENV)
    assert init.returncode == 0, init.stderr  # the service account's init is not locked out


def test_root_is_told_who_administers(server):
    s = server
    res = _run([str(s.bin / "clinicast"), "campaigns", "list", "--config", str(s.config)], env=ENV, cwd="/")
    one_line(res, 1, "root", "[users]", f"runuser -u {s.service}")
    assert "Who administers" in s.install_output and "root is not a clinicast user" in s.install_output
    svc = cli(s, s.service, "campaigns", "list")  # the service account administers without a [users] entry
    assert svc.returncode == 0, svc.stderr


def test_uninstall_keeps_the_database_and_a_reinstall_finds_it(sshd):
    """Item 7: deploy/uninstall.sh removes the program and the sshd rule, keeps the data;
    install.sh again (the same paths) finds the clinic's database as it was."""
    s = sshd
    ok(ssh(s, s.staff2, "campaigns create --kind invitation --name 'gardée'"))
    listed = lambda: {(c["id"], c["name"]) for c in json.loads(ok(ssh(s, s.staff2, "campaigns list --json")).stdout)}  # noqa: E731
    before = listed()
    assert any(name == "gardée" for _id, name in before), before
    res = _run(["sh", str(SCRIPT.parent / "uninstall.sh")], env=s.env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Kept: the database" in res.stdout
    assert not s.prefix.exists() and not (s.bin / "clinicast").exists()
    assert not (s.root / "sshd" / "clinicast.conf").exists() and not (s.root / "units" / "clinicast.service").exists()
    assert s.db.exists() and s.config.exists() and (s.etc / "gateway.token").exists()
    assert _run(["getent", "group", s.staff]).returncode == 0  # the accounts stay unless purged
    # the running sshd still includes the old rule (a real host reloads): the command is gone
    assert ssh(s, s.staff2, "campaigns", "list").returncode != 0
    res = _run(["sh", str(SCRIPT)], env=s.env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert listed() == before

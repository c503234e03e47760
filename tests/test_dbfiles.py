"""Database errors in words with their kind, and files never world-readable (#8, #9).

Each case runs the real `clinicast` command in a subprocess (umask 022, as a shell has)
and checks: one line on stderr, the exit status, no traceback, the database unchanged.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import peewee as pw
import pytest
from conftest import write_config

from core import db as dbmod
from core import dberrors
from core.errors import DatabaseProblem

PG_URL = os.environ.get("CLINICAST_TEST_PG_URL", "")


def clinicast(config, *args, user=None, umask=0o022, timeout=60):
    cmd = [sys.executable, "-m", "cli", *args, "--config", str(config)]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        preexec_fn=lambda: os.umask(umask),
    )


def one_line(res, code, *words):
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    for w in words:
        assert w in res.stderr, res.stderr
    return res.stderr


def digest(path):
    return {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (path, f"{path}-wal") if os.path.exists(p)}


@pytest.fixture
def sqlite_db(tmp_path):
    path = tmp_path / "clinicast.db"
    config = write_config(tmp_path, f"sqlite:///{path.as_posix().lstrip('/')}")
    res = clinicast(config, "init")
    assert res.returncode == 0, res.stderr
    return config, path


def test_files_are_never_world_readable_whatever_the_umask(sqlite_db, tmp_path):
    config, path = sqlite_db
    csv = tmp_path / "p.csv"
    csv.write_text(
        "emr_id,first_name,last_name,date_of_birth,language,email\n1,A,B,1980-01-01,fr,a@example.org\n",
        encoding="utf-8",
    )
    assert clinicast(config, "patients", "import", str(csv)).returncode == 0
    c = clinicast(config, "campaigns", "create", "--kind", "invitation", "--name", "x", "--json")
    assert c.returncode == 0, c.stderr
    assert clinicast(config, "recipients", "add", "1", "--patient", "1").returncode == 0
    assert clinicast(config, "campaigns", "start", "1").returncode == 0
    assert clinicast(config, "daemon", "--once").returncode == 0
    made = [path] + list((tmp_path / "maildir").rglob("*"))
    assert any(p.suffix == ".eml" for p in made), made
    for p in made:
        assert not stat.S_IMODE(p.stat().st_mode) & 0o007, f"{p} is {stat.S_IMODE(p.stat().st_mode):o}"


def test_a_write_lock_held_too_long_is_locked_with_what_to_do(sqlite_db):
    config, path = sqlite_db
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        res = clinicast(config, "campaigns", "create", "--kind", "invitation", "--name", "x", timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line(res, 1, "is locked", "try again", str(path))
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM campaign").fetchone() == (0,)


def test_a_file_that_is_not_sqlite_is_invalid(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the droids\n" * 100)
    config = write_config(tmp_path, f"sqlite:///{path.as_posix().lstrip('/')}")
    before = path.read_bytes()
    one_line(clinicast(config, "campaigns", "list"), 1, "is not a clinicast database", str(path))
    assert path.read_bytes() == before
    res = clinicast(config, "config", "check")
    assert res.returncode == 1 and "is not a clinicast database" in res.stdout and "problems" in res.stdout


def test_config_check_exits_1_when_the_database_cannot_be_opened(tmp_path):
    config = write_config(tmp_path, "postgresql://nobody@127.0.0.1:1/db?connect_timeout=2")
    res = clinicast(config, "config", "check")
    assert res.returncode == 1, res.stdout
    assert "does not answer" in res.stdout


def test_disk_full_during_a_write_says_full_not_cannot_rollback(sqlite_db):
    _config, path = sqlite_db
    dbmod.bind(f"sqlite:///{str(path).lstrip('/')}")
    try:
        pages = dbmod.database.execute_sql("PRAGMA page_count").fetchone()[0]
        # a real SQLITE_FULL: the database may not grow past the pages it has
        dbmod.database.execute_sql(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(pw.PeeweeException) as e:
            with dbmod.write_transaction():
                dbmod.database.execute_sql("CREATE TABLE filler (x TEXT)")
                for _ in range(200):
                    dbmod.database.execute_sql("INSERT INTO filler VALUES (?)", ("x" * 4000,))
        err = dbmod.explain(e.value)
    finally:
        dbmod.database.close()
    assert err.kind is DatabaseProblem.FULL and "full" in str(err) and "rollback" not in str(err)


def test_cannot_rollback_hides_nothing():
    try:
        try:
            raise pw.OperationalError("database or disk is full")
        except pw.OperationalError:
            raise pw.OperationalError("cannot rollback - no transaction is active")  # noqa: B904 - as sqlite3 does
    except pw.OperationalError as e:
        err = dberrors.explain(e, "sqlite:///tmp/x.db")
    assert err.kind is DatabaseProblem.FULL


@pytest.mark.skipif(not PG_URL, reason="needs CLINICAST_TEST_PG_URL")
def test_postgres_without_the_database_says_to_create_it_not_unreachable(tmp_path):
    """FATAL: database "x" does not exist is a server that answered: config check and a
    command say how to make it, not "the database server does not answer"."""
    u = urlsplit(PG_URL)
    name = f"no_such_db_{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path, urlunsplit(u._replace(path=f"/{name}", query="")))
    said = (
        f"the PostgreSQL server has no database “{name}”: create it as its administrator "
        f"(`createdb -O {u.username} {name}`, then the README's SQL for PostgreSQL) or fix the name in [database] url"
    )
    one_line(clinicast(config, "campaigns", "list"), 1, said)
    res = clinicast(config, "config", "check")
    assert res.returncode == 1 and said in res.stdout and "does not answer" not in res.stdout, res.stdout


@pytest.mark.skipif(not PG_URL, reason="needs CLINICAST_TEST_PG_URL")
def test_postgres_refusing_a_role_is_a_permission_problem_not_unreachable(tmp_path):
    base = PG_URL.split("@", 1)[1]
    config = write_config(tmp_path, f"postgresql://no_such_role_x1@{base}")
    msg = one_line(clinicast(config, "campaigns", "list"), 1, "has no role no_such_role_x1", "CREATE ROLE")
    assert "does not answer" not in msg
    config = write_config(tmp_path, "postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    one_line(clinicast(config, "campaigns", "list"), 1, "does not answer")


def test_bad_postgres_urls_are_bad_config(tmp_path):
    for url, words in (
        ("postgresql://u@h:abc/db", "port in “h:abc”"),
        ("postgresql://u@h/db?sslmdoe=require", "unknown option “sslmdoe”"),
    ):
        config = write_config(tmp_path, url)
        one_line(clinicast(config, "campaigns", "list"), 2, "database.url", words)


def test_root_running_init_hands_the_files_to_the_folder_owner(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root hands files over")
    path = tmp_path / "clinicast.db"
    config = write_config(tmp_path, f"sqlite:///{path.as_posix().lstrip('/')}")
    assert clinicast(config, "init").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o660


def test_a_folder_not_in_the_group_is_named_with_the_fix_in_the_cli_and_the_tui(tmp_path):
    import grp

    group = next(g.gr_name for g in grp.getgrall() if g.gr_gid != tmp_path.stat().st_gid)
    path = tmp_path / "db" / "clinicast.db"
    path.parent.mkdir(mode=0o755)
    config = write_config(tmp_path, f"sqlite:///{path.as_posix().lstrip('/')}")
    config.write_text(config.read_text().replace("[email]", f'group = "{group}"\n\n[email]', 1))
    msg = one_line(clinicast(config, "campaigns", "list"), 1, str(path.parent), f"chgrp {group}", "chmod 2770")
    assert "owner " in msg
    from tui.app import Problem, open_session

    problem = open_session(str(config), clock=None)
    assert isinstance(problem, Problem) and f"chgrp {group}" in problem.message
    assert problem.advice.startswith("Run the command above as root")
    assert not path.exists()  # nothing was created


def test_init_makes_the_shared_folder_and_nobody_else_does(tmp_path):
    import grp

    group = grp.getgrgid(os.getegid()).gr_name
    path = tmp_path / "shared" / "clinicast.db"
    config = write_config(tmp_path, f"sqlite:///{path.as_posix().lstrip('/')}")
    config.write_text(config.read_text().replace("[email]", f'group = "{group}"\n\n[email]', 1))
    one_line(clinicast(config, "campaigns", "list"), 1, f"{path.parent} does not exist", "clinicast init")
    assert not path.parent.exists()
    res = clinicast(config, "init")
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o2770 and path.parent.stat().st_gid == os.getegid()
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    assert clinicast(config, "campaigns", "list").returncode == 0


def test_the_tui_shows_a_driver_error_in_core_words(sqlite_db):
    from tui.workers import error_text

    _config, path = sqlite_db
    dbmod.bind(f"sqlite:///{str(path).lstrip('/')}")
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        dbmod.database.execute_sql("PRAGMA busy_timeout = 50")
        with pytest.raises(pw.OperationalError) as e:
            with dbmod.write_transaction():
                pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        dbmod.database.close()
    text = error_text(e.value)
    assert "is locked" in text and "try again" in text and "unexpected" not in text


def test_a_command_before_init_creates_no_database_file(tmp_path):
    """The first `campaigns list` run before `init` made the database, owned by whoever
    ran it, in no group — after which every other user was told to chmod it, and its
    maker passed for the service account. Nothing is created: `init` makes it."""
    import grp

    group = grp.getgrgid(os.getegid()).gr_name
    path = tmp_path / "shared" / "clinicast.db"
    path.parent.mkdir()
    os.chmod(path.parent, 0o2770)  # the folder as an administrator made it, in the group
    config = write_config(tmp_path, f"sqlite:///{path.as_posix().lstrip('/')}")
    config.write_text(config.read_text().replace("[email]", f'group = "{group}"\n\n[email]', 1))
    for args in (["campaigns", "list"], ["status"], ["daemon", "--once"]):
        res = clinicast(config, *args)
        assert res.returncode == 1 and "Traceback" not in res.stderr, (args, res.stderr)
        assert f"{path} does not exist yet: run `clinicast init`" in res.stderr, (args, res.stderr)
        assert os.listdir(path.parent) == [], args
    assert clinicast(config, "init").returncode == 0
    assert clinicast(config, "campaigns", "list").returncode == 0


@pytest.mark.parametrize("command", [["init"], ["campaigns", "list"], ["config", "check"]])
def test_a_database_url_naming_a_folder_is_said_and_the_folder_left_alone(tmp_path, command):
    """`[database] url` naming the database's folder: init gave the folder a file's mode
    (0660: nobody could enter it) and blamed a read-only disk."""
    folder = tmp_path / "dbdir"
    folder.mkdir()
    os.chmod(folder, 0o2770)
    config = write_config(tmp_path, f"sqlite:///{folder.as_posix().lstrip('/')}")
    res = clinicast(config, *command)
    # config check reports it on its database line, and exits 1 as for any database it cannot open
    assert res.returncode == (1 if command == ["config", "check"] else 2), (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert f"[database] url: {folder} is a folder; name the database file in it, such as {folder}/clinicast.db" in (
        res.stderr + res.stdout
    )
    assert stat.S_IMODE(folder.stat().st_mode) == 0o2770 and os.listdir(folder) == []


def test_config_check_says_what_a_clinic_s_setup_gets_wrong(sqlite_db, tmp_path):
    """Found by a review: a config every user could edit (so make themselves "admin"), a
    misspelled login under [users] and « timezone = "EST" » (an hour off all summer) all
    passed `config check` as ok."""
    config, _path = sqlite_db
    res = clinicast(config, "config", "check")
    assert res.returncode == 0 and "warning" not in res.stdout and "unsafe" not in res.stdout, res.stdout
    text = config.read_text()
    text = text.replace('timezone = "America/Toronto"', 'timezone = "EST"')
    config.write_text(text + '\n[users.mlavall]\nname = "Typo"\npermissions = ["campaigns"]\n')
    res = clinicast(config, "config", "check")
    assert res.returncode == 0, res.stdout + res.stderr  # warnings: nothing stops the clinic
    assert "warning: users.mlavall: there is no login mlavall on this host" in res.stdout, res.stdout
    assert "warning: clinic.timezone: EST keeps no daylight saving time" in res.stdout, res.stdout
    os.chmod(config, 0o666)
    res = clinicast(config, "config", "check")
    assert res.returncode == 1 and f"{config}: problems" in res.stdout, res.stdout
    assert f"unsafe: {config} can be changed by every user of this host (mode 0666)" in res.stdout, res.stdout
    assert f"run chmod o-w {config}" in res.stdout

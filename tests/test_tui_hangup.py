"""Sessions end with their connection (SPEC §13, issue #19): the real `clinicast` TUI in
a real pseudo-terminal, its embedded scheduler running; the terminal hangs up (its
master side closes, as sshd does when the connection drops: the kernel sends SIGHUP)
and the TUI ends within seconds, its heartbeat removed and nothing left claimed."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import sqlite3
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from conftest import write_config

ROOT = Path(__file__).resolve().parent.parent
SCHEDULER = '[scheduler]\nembedded = "always"\ntick_seconds = 0.2\nheartbeat_seconds = 0.5\n'


def tui_in_a_pty(config: Path, *, leader_keeps_sighup: bool = False):
    """`clinicast --config CONFIG` with a pty as its controlling terminal, in a session of
    its own (as sshd starts it); returns (process, master fd, what it drew). With
    `leader_keeps_sighup`, the session's leader is a shell that ignores SIGHUP and waits
    for clinicast (as `make demo` does): a hang-up's signal never reaches clinicast."""
    primary, secondary = os.openpty()
    argv = [sys.executable, "-m", "cli", "--config", str(config)]
    if leader_keeps_sighup:
        argv = ["sh", "-c", "trap '' HUP; \"$@\"; exit $?", "sh", *argv]
    drawn = bytearray()

    def controlling_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        argv,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "TERM": "xterm-256color", "LANG": "C.UTF-8", "HOME": str(config.parent)},
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(secondary)

    stop = threading.Event()

    def drain():  # a terminal reads what the app draws, or the app blocks writing
        while not stop.is_set():  # never blocked in read(): close() must really release the master
            if select.select([primary], [], [], 0.05)[0]:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                drawn.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()

    def hang_up():
        """Close the terminal's master side, as sshd does when the connection drops."""
        stop.set()
        reader.join()
        os.close(primary)

    def type_keys(data: bytes) -> None:  # what the staff member types, through the terminal
        os.write(primary, data)

    hang_up.type_keys = type_keys  # type: ignore[attr-defined]
    return proc, hang_up, drawn


def rows(db: Path, sql: str) -> list:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def wait_for(pred, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["terminal closed", "SIGHUP", "terminal closed, SIGHUP kept by the leader"])
def test_a_dropped_connection_ends_the_tui_and_releases_its_scheduler(tmp_path, sqlite_url, how):
    config = write_config(tmp_path, sqlite_url, extra=SCHEDULER)
    db = tmp_path / "clinicast.db"
    init = subprocess.run([sys.executable, "-m", "cli", "init", "--config", str(config)], cwd=ROOT, capture_output=True)
    assert init.returncode == 0, init.stderr
    proc, hang_up, drawn = tui_in_a_pty(config, leader_keeps_sighup=how.endswith("by the leader"))
    closed = False
    try:
        beating = "SELECT name, role FROM heartbeat WHERE role = 'tui'"
        assert wait_for(lambda: rows(db, beating)), bytes(drawn[-2000:])
        said = (
            b"deliveries: sent by this session",
            b"sending: this session",
            b"embedded",
        )  # in full, in short (80 columns)
        assert wait_for(lambda: any(s in drawn for s in said), 60)
        hung_up_at = time.monotonic()
        if how.startswith("terminal closed"):
            hang_up()  # the kernel hangs the terminal up: SIGHUP to its session
            closed = True
        else:
            os.killpg(proc.pid, signal.SIGHUP)
        code = proc.wait(timeout=30)
        took = time.monotonic() - hung_up_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not closed:
            hang_up()
    assert took < 10, f"the TUI took {took:.1f} s to end after the hangup"
    assert code == 128 + signal.SIGHUP, code  # ended by its own handler, not killed by the signal
    assert rows(db, beating) == [], "the TUI's heartbeat outlived it"
    assert rows(db, "SELECT count(*) FROM delivery WHERE status = 'sending'") == [(0,)]

"""A clinic administrator's mistake with a secret (SPEC §13): a `token_file` that does not
exist (a mistyped path, a file not written yet) is the sender's problem, not every staff
member's. The config loads for everyone, so staff work as usual; `config check` names the
key, the file, what is wrong and the fix."""

from __future__ import annotations

import os

from servers import delivery_config
from test_dbfiles import clinicast


def write_token(path, value: str, mode: int = 0o600) -> None:
    path.write_text(value + "\n")
    os.chmod(path, mode)


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

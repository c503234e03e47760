"""Config loading: discovery, strict validation with key paths, secrets."""

import os
import re

import pytest
from conftest import write_config

from core import config as cfg


def load_text(tmp_path, text, env=None):
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return cfg.load(p, env=env or {})


MINIMAL = (
    '[clinic]\nname = "C"\naddress = "1 rue A"\nphone = "514-555-0100"\n[database]\nurl = "sqlite:///tmp/x.db"\n'
    '[gateway]\ntransport = "log"\npath = "g.log"\n'
    # last, so a test can add [email] keys by appending lines
    '[email]\nunsubscribe_url = "https://app.example.org/unsubscribe"\n'
)


def test_example_config_is_valid(tmp_path):
    here = os.path.dirname(os.path.dirname(__file__))
    text = open(os.path.join(here, "config.example.toml"), encoding="utf-8").read()
    c = load_text(tmp_path, text, env={"CLINICAST_SMTP_PASSWORD": "x", "CLINICAST_GATEWAY_TOKEN": "t"})
    assert c.clinic.timezone == "America/Toronto"
    assert c.email.password == "x" and c.gateway.token == "t"
    assert c.scheduler.max_attempts == 8


def test_defaults_and_relative_paths(tmp_path):
    c = load_text(tmp_path, MINIMAL)
    assert c.scheduler.tick_seconds == 5 and c.gateway.concurrency == 16
    assert c.gateway.path == str(tmp_path / "g.log")


def test_unknown_keys_and_sections_are_refused(tmp_path):
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, MINIMAL + '[scheduler]\ntick_second = 5\n[smtp]\nhost = "x"\n')
    msg = str(e.value)
    assert "scheduler.tick_second: unknown key" in msg
    assert "unknown section [smtp]" in msg


def test_wrong_types_missing_keys_and_choices_all_reported(tmp_path):
    text = (
        '[clinic]\ntimezone = "Mars/Olympus"\ndefault_language = "de"\n'
        '[database]\nurl = "mysql://x"\n[gateway]\nconcurrency = "many"\n'
    )
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, text)
    msg = str(e.value)
    for expected in (
        "clinic.name: required key is missing",
        "clinic.timezone: unknown time zone",
        "clinic.default_language: expected one of “fr”, “en”",
        "database.url: expected sqlite",
        "gateway.concurrency: expected an integer, got text “many”",
    ):
        assert expected in msg
    assert all(line.startswith(str(tmp_path / "c.toml")) for line in msg.splitlines())


def test_each_problem_in_french_names_its_key_as_french_writes_it(tmp_path):
    """« gateway.concurrency : attendu un entier » — every key the same way, with the no-break
    space before the colon (a missing key and a wrong type were written outside the sentence)."""
    from core import i18n

    text = '[clinic]\ntimezone = "Mars/Olympus"\ndefault_language = "de"\n[gateway]\nconcurrency = "many"\n'
    i18n.use("fr")
    try:
        with pytest.raises(cfg.ConfigError) as e:
            load_text(tmp_path, text)
    finally:
        i18n.use("en")
    problems = [line.removeprefix(f"{tmp_path / 'c.toml'}\u00a0: ") for line in str(e.value).splitlines()]
    keys = {p.split("\u00a0: ")[0] for p in problems}
    assert {"clinic.name", "clinic.timezone", "clinic.default_language", "gateway.concurrency"} <= keys, problems
    keyed = [p for p in problems if not p.startswith("[")]  # « [database] est absente »: a section
    assert len(keyed) == 4 and all(re.match(r"[a-z_.]+\u00a0: \S", p) for p in keyed), problems


def test_toml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, '[clinic]\nname = "C"\nphone = 514\nbroken = \n')
    assert "line 4" in str(e.value)


def test_a_bom_from_windows_notepad_is_accepted(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert cfg.load(p, env={}).clinic.name == "C"


def test_a_windows_1252_config_names_the_line_and_column(tmp_path):
    from click.testing import CliRunner

    from cli import cli

    p = tmp_path / "c.toml"
    p.write_bytes(MINIMAL.replace('address = "1 rue A"', 'address = "1 rue Érable – A"').encode("cp1252"))
    with pytest.raises(cfg.ConfigError) as e:
        cfg.load(p, env={})
    said = "not UTF-8 text at line 3, column 18 (byte 0xC9: Windows-1252?); save the file as UTF-8"
    assert str(e.value) == f"{p}: {said}"
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(p)], obj={})
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", f"clinicast: {p}: {said}\n")


def test_a_bad_byte_after_accents_is_placed_by_characters_not_bytes(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b'[clinic]\nname = "\xc3\x89cole \x96"\n')
    with pytest.raises(cfg.ConfigError, match=r"at line 2, column 15 \(byte 0x96"):
        cfg.load(p, env={})


def test_secret_from_env_missing_is_an_error_when_the_transport_is_built(tmp_path):
    # the config loads (a staff member's shell never has the daemon's variables) ...
    c = load_text(tmp_path, MINIMAL + 'password_env = "NOPE_PASSWORD"\n')
    # ... and the password is asked for only where an SMTP transport is built
    with pytest.raises(cfg.ConfigError) as e:
        c.email.password  # noqa: B018
    assert "email.password_env: environment variable NOPE_PASSWORD is not set" in str(e.value)


def test_secret_file_readable_by_others_is_never_used_but_the_config_loads(tmp_path):
    """A 0644 token file is the sender's fault to say (it never uses it: the channel
    waits with the chmod to run), not a config every staff member is refused."""
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    text = MINIMAL.replace('transport = "log"\npath = "g.log"', 'url = "https://gw"\ntoken_file = "token"')
    c = load_text(tmp_path, text)
    with pytest.raises(cfg.ConfigError) as e:
        c.gateway.token  # noqa: B018
    assert f"gateway.token_file: {secret} is readable or writable by others; run: chmod o-rwx {secret}" in str(e.value)
    secret.chmod(0o600)
    assert c.gateway.token == "s3cret"


def test_secret_file_that_does_not_exist_is_said_where_it_is_read(tmp_path):
    text = MINIMAL.replace('transport = "log"\npath = "g.log"', 'url = "https://gw"\ntoken_file = "nope/token"')
    c = load_text(tmp_path, text)  # every staff member's CLI and TUI work
    with pytest.raises(cfg.ConfigError) as e:
        c.gateway.token  # noqa: B018
    assert f"gateway.token_file: {tmp_path / 'nope' / 'token'} does not exist: write the secret in it" in str(e.value)


def test_inline_secret_is_not_a_key(tmp_path):
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, MINIMAL + 'password = "hunter2"\n')
    assert "email.password: unknown key" in str(e.value)


def test_users_permissions_validated(tmp_path):
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, MINIMAL + '[users.bob]\nname = "Bob"\npermissions = ["campaigns", "root"]\n')
    assert "users.bob.permissions" in str(e.value)


def test_discovery_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLINICAST_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    here = write_config(tmp_path, "sqlite:///tmp/a.db")
    assert cfg.discover() == here.relative_to(tmp_path)  # ./clinicast.toml
    monkeypatch.setenv("CLINICAST_CONFIG", "/elsewhere.toml")
    assert str(cfg.discover()) == "/elsewhere.toml"
    assert str(cfg.discover("/explicit.toml")) == "/explicit.toml"


def test_smtp_needs_the_unsubscribe_page_and_the_clinics_identification(tmp_path):
    text = (
        '[clinic]\nname = "C"\n[database]\nurl = "sqlite:///tmp/x.db"\n[gateway]\ntransport = "log"\npath = "g.log"\n'
    )
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, text + '[email]\nlist_unsubscribe = "mailto:u@example.org"\n')
    assert "remove list_unsubscribe and set email.unsubscribe_url" in str(e.value)
    # the rest matters where email is sent (the SMTP transport, config check), like the secrets
    config = load_text(tmp_path, text + '[email]\nhost = "smtp.example.org"\n')
    lines = cfg.email_problems(config)
    assert sorted(line.split(": ", 2)[1] for line in lines) == [
        "clinic.address",
        "clinic.phone",
        "email.unsubscribe_url",
    ]
    assert "every email ends with the clinic's name, postal address and phone" in lines[-1]
    from core.delivery import Dispatcher

    with pytest.raises(cfg.ConfigError, match="email.unsubscribe_url: required"):
        Dispatcher(config).mailer  # noqa: B018 - building the transport is what refuses
    # maildir (the demo, a dry run) needs neither
    assert cfg.email_problems(load_text(tmp_path, text + '[email]\ntransport = "maildir"\npath = "m"\n')) == []


def test_a_value_of_another_type_is_written_as_the_file_writes_it(tmp_path):
    """A number, a boolean, a list, a table or a date is shown as TOML writes it, unquoted
    (in quotes a number would read as text); text in the reader's quotes."""
    text = (
        MINIMAL.replace('name = "C"', "name = 12")
        .replace('transport = "log"', 'transport = "log"\nconcurrency = 2026-01-01')
        .replace("[email]\n", '[sending]\ndays = ["mon", 3]\nhours = {from = 9}\n[email]\n')
        + 'port = "587"\nsecurity = true\n'
    )
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, text)
    said = [line.partition("c.toml: ")[2] for line in str(e.value).splitlines()]
    assert said == [
        "clinic.name: expected a string, got an integer 12",
        "email.port: expected an integer, got text “587”",
        "email.security: expected one of “starttls”, “tls”, “none”, got true",
        "gateway.concurrency: expected an integer, got a date or time 2026-01-01",
        "sending.hours: expected a string, got a table {from = 9}",
        'sending.days: expected a list of strings, got ["mon", 3]',
    ]

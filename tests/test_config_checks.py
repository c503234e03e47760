"""Config values range-checked and secrets read only where sending happens (#8, #9)."""

import pytest

from core import config as cfg
from core.config import secrets

MINIMAL = (
    '[clinic]\nname = "C"\n[database]\nurl = "sqlite:///tmp/x.db"\n'
    '[email]\ntransport = "maildir"\npath = "m"\n[gateway]\ntransport = "log"\npath = "g.log"\n'
)


def with_email(line: str) -> str:
    return MINIMAL.replace("[email]\n", f"[email]\n{line}\n")


def load_text(tmp_path, text, env=None):
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return cfg.load(p, env=env or {})


def refused(tmp_path, text, expected):
    with pytest.raises(cfg.ConfigError) as e:
        load_text(tmp_path, text)
    assert expected in str(e.value), str(e.value)
    return str(e.value)


@pytest.mark.parametrize(
    "section,key,value",
    [
        ("scheduler", "tick_seconds", "nan"),
        ("scheduler", "tick_seconds", "inf"),
        ("scheduler", "lease_seconds", "1e308"),
        ("scheduler", "heartbeat_seconds", "1e-9"),
        ("scheduler", "backoff_max_seconds", "-1"),
        ("email", "timeout_seconds", "0"),
        ("email", "timeout_seconds", "-1"),
        ("gateway", "timeout_seconds", "nan"),
        ("gateway", "timeout_seconds", "inf"),
    ],
)
def test_seconds_must_be_finite_positive_and_sane(tmp_path, section, key, value):
    if section == "email":
        text = with_email(f"{key} = {value}")
    else:
        text = MINIMAL + f"[{section}]\n{key} = {value}\n" if section != "gateway" else MINIMAL + f"{key} = {value}\n"
    msg = refused(tmp_path, text, f"{section}.{key}: expected a number of seconds from")
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize("port", [-1, 0, 99999])
def test_ports_from_1_to_65535(tmp_path, port):
    refused(tmp_path, with_email(f"port = {port}"), "email.port: expected a port from 1 to 65535")


@pytest.mark.parametrize("url", ["not a url", "gateway.example.org", "ftp://x", "https://host:99999/", "https://"])
def test_gateway_url_must_be_a_url(tmp_path, url):
    text = MINIMAL.replace('transport = "log"\npath = "g.log"', f'url = "{url}"')
    refused(tmp_path, text, "gateway.url:")


@pytest.mark.parametrize(
    "url",
    [
        "http://app.example.org/unsubscribe",
        "mailto:unsubscribe@example.org",
        "https://",
        "http://127.0.0.1.example.org/unsubscribe",
        "http://localhost.example.org/unsubscribe",
    ],
)
def test_unsubscribe_url_must_be_https(tmp_path, url):
    """Every email carries List-Unsubscribe-Post (one-click), whose link "MUST contain one
    HTTPS URI" (RFC 8058 §3.1): refused at load, so no daemon sends it, in one line."""
    msg = refused(
        tmp_path,
        with_email(f'unsubscribe_url = "{url}"'),
        f"email.unsubscribe_url: expected an https:// URL (the unsubscribe page; one-click unsubscribe "
        f"needs HTTPS, RFC 8058), got “{url}”",
    )
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.org/unsubscribe",
        "http://127.0.0.1:8080/unsubscribe",  # loopback: the tests' gateway, a try-out on this machine
        "http://localhost/unsubscribe",
        "http://[::1]:8080/unsubscribe",
    ],
)
def test_unsubscribe_url_https_or_loopback_loads(tmp_path, url):
    assert load_text(tmp_path, with_email(f'unsubscribe_url = "{url}"')).email.unsubscribe_url == url


def test_config_check_refuses_an_http_unsubscribe_url(tmp_path):
    from click.testing import CliRunner
    from conftest import write_config

    from cli import cli

    path = write_config(tmp_path, "sqlite:///" + str(tmp_path / "c.db").lstrip("/"))
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "[email]\n", '[email]\nunsubscribe_url = "http://app.example.org/unsubscribe"\n'
        ),
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert res.exit_code == 2, res.output
    assert res.stderr == (
        f"clinicast: {path}: email.unsubscribe_url: expected an https:// URL (the unsubscribe page; "
        "one-click unsubscribe needs HTTPS, RFC 8058), got “http://app.example.org/unsubscribe”\n"
    )
    assert res.stdout == ""


@pytest.mark.parametrize("sender", ["C <a@b.org>\\r\\nBcc: x@evil.org", "C <a@b.org>\\nX: y", "no address", "a@", ""])
def test_from_with_line_breaks_or_no_address_refused(tmp_path, sender):
    refused(tmp_path, with_email(f'from = "{sender}"'), "email.from")


@pytest.mark.parametrize(
    "sender,said",
    [
        (
            "Clinique <réception@example.org>",
            "email.from: réception@example.org has accented or non-ASCII letters before the @, which mail servers "
            "refuse; write the address in ASCII, e.g. reception@example.org",
        ),
        (
            "Clinique <accueil@clinique-jérôme.ca>",
            "email.from: the domain clinique-jérôme.ca has accented letters, which an email's headers cannot carry; "
            "write the domain as xn--clinique-jrme-khb0o.ca (its IDNA form): accueil@xn--clinique-jrme-khb0o.ca",
        ),
        (
            "Clinique <réception@clinique-jérôme.ca>",
            "email.from: réception@clinique-jérôme.ca has accented or non-ASCII letters before the @, which mail "
            "servers refuse; write the address in ASCII, e.g. reception@xn--clinique-jrme-khb0o.ca",
        ),
    ],
)
def test_from_with_accents_in_the_address_is_refused_with_what_to_write(tmp_path, sender, said):
    """Such a sender passed `config check`, then every email failed for good when built
    ("local-part contains non-ASCII characters", or an 'ascii' codec error)."""
    from click.testing import CliRunner

    from cli import cli

    msg = refused(tmp_path, with_email(f'from = "{sender}"'), said)
    assert len(msg.splitlines()) == 1
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(tmp_path / "c.toml")], obj={})
    assert res.exit_code == 2 and said in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr


def test_from_with_accents_in_the_name_only_is_fine(tmp_path):
    c = load_text(tmp_path, with_email('from = "Clinique Jérôme <accueil@xn--clinique-jrme-khb0o.ca>"'))
    assert c.email.sender == "Clinique Jérôme <accueil@xn--clinique-jrme-khb0o.ca>"


@pytest.mark.parametrize(
    "host,said",
    [
        ("127.0.0.1 ", "email.host: “127.0.0.1 ” has a space before or after it; write “127.0.0.1”"),
        (" smtp.example.org", "email.host: “ smtp.example.org” has a space before or after it; write “smtp.exampl"),
        ("smtp.example.org:587", "email.host: expected a host name or IP address such as smtp.example.org or 127.0"),
        ("smtp://smtp.example.org", "email.host: expected a host name or IP address such as smtp.example.org"),
        ("smtp..example.org", "email.host: expected a host name or IP address such as smtp.example.org"),
        ("", "email.host: expected a host name or IP address such as smtp.example.org"),
    ],
)
def test_email_host_must_be_a_host_name_or_address_nothing_around_it(tmp_path, host, said):
    """A host of "127.0.0.1 " passed `config check`; the daemon then spent each patient's attempts
    on "Name or service not known"."""
    from click.testing import CliRunner

    from cli import cli

    msg = refused(tmp_path, with_email(f'host = "{host}"'), said)
    assert len(msg.splitlines()) == 1
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(tmp_path / "c.toml")], obj={})
    assert res.exit_code == 2 and said in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr


@pytest.mark.parametrize("host", ["smtp.example.org", "localhost", "127.0.0.1", "::1", "smtp-relay.gmail.com."])
def test_email_host_names_and_addresses_are_fine(tmp_path, host):
    assert load_text(tmp_path, with_email(f'host = "{host}"')).email.host == host


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1 /clinic", "postgresql://postgres@127.0.0.1/clinic "])
def test_database_url_with_a_stray_space_is_refused(tmp_path, url):
    text = MINIMAL.replace("sqlite:///tmp/x.db", url)
    refused(tmp_path, text, "database.url: contains spaces or control characters")


def test_empty_timezone_refused(tmp_path):
    refused(tmp_path, MINIMAL.replace('name = "C"', 'name = "C"\ntimezone = ""'), "clinic.timezone: must not be empty")


def test_deeply_nested_toml_is_one_line(tmp_path):
    msg = refused(tmp_path, MINIMAL + "x = " + "[" * 100000 + "]" * 100000 + "\n", "c.toml:")
    assert len(msg.splitlines()) == 1 and "Recursion" not in msg


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgresql://u@h:abc/db", "database.url: the port in “h:abc” is not a number"),
        ("postgresql://u@h/db?sslmod=require", "database.url: unknown option “sslmod”"),
        ("postgresql://u@h/", "the database name is missing"),
    ],
)
def test_postgres_url_checked(tmp_path, url, expected):
    refused(tmp_path, MINIMAL.replace("sqlite:///tmp/x.db", url), expected)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:///clinic?host=/var/run/postgresql-custom",  # a socket in another folder, no URL host
        "postgresql://clinicast@db.example.org/clinic?port=5433",
        "postgresql:///clinic?host=/run/pg&port=5433&options=-csearch_path%3Dclinicast",
        "postgresql://clinicast@db.example.org/clinic?sslmode=verify-full&sslrootcert=/etc/ssl/clinic-ca.pem"
        "&application_name=clinicast&connect_timeout=5",
        "postgresql://db1.example.org,db2.example.org/clinic?port=5432,5433&target_session_attrs=read-write",
        "postgresql:///?dbname=clinic&host=/run/pg",  # the name as an option: libpq's too
        "postgresql://%2Frun%2Fpg/clinic",  # libpq's socket folder written as the host
        "postgresql://db.example.org/clinic?ssl=true",  # JDBC's spelling, libpq's sslmode=require
    ],
)
def test_libpq_connection_parameters_in_the_url_are_accepted(tmp_path, url):
    """`?host=/var/run/postgresql-custom` and `?port=5433` were refused as "unknown
    option": libpq takes every connection parameter as a URL option, and an empty URL
    host with ?host= is how a socket in another folder is written."""
    assert load_text(tmp_path, MINIMAL.replace("sqlite:///tmp/x.db", url)).database.url == url


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgresql://u@h/db?hots=/run/pg", "database.url: unknown option “hots”; did you mean host?"),
        ("postgresql://u@h/db?prot=5433", "database.url: unknown option “prot”; did you mean port?"),
        ("postgresql://u@h/db?sslrootcrt=/ca.pem", "unknown option “sslrootcrt”; did you mean sslrootcert?"),
        ("postgresql://u@h/db?connection_timeout=5", "unknown option “connection_timeout”; did you mean connect_"),
        ("postgresql://u@h/db?ssl=1", "unknown option “ssl”; did you mean sslmode?"),
        ("postgresql://u@h/db?database=x", "unknown option “database”; did you mean dbname?"),
        ("postgresql://u@h/db?search_path=c", "did you mean options=-csearch_path%3DSCHEMA?"),
        ("postgresql://u@h/db?zzz=1", "unknown option “zzz”; expected one of libpq's connection parameters (host"),
        ("postgresql:///db?host=/run/pg&port=54321x", "database.url: port “54321x” is not from 1 to 65535"),
        ("postgresql:///db?port=5432,0", "database.url: port “0” is not from 1 to 65535"),
        ("postgresql://u@h/db?replication=database", "needs an ordinary connection, not a replication one"),
        ("postgresql:///?host=/run/pg", "the database name is missing"),
    ],
)
def test_a_typo_in_a_url_option_is_refused_with_the_nearest_name(tmp_path, url, expected):
    refused(tmp_path, MINIMAL.replace("sqlite:///tmp/x.db", url), expected)


def test_a_password_given_as_a_url_option_is_never_shown():
    from core import pgurl

    url = "postgresql:///clinic?host=/run/pg&user=clinicast&password=S3cret&sslpassword=k3y&sslmode=require"
    assert pgurl.redacted(url) == (
        "postgresql:///clinic?host=/run/pg&user=clinicast&password=***&sslpassword=***&sslmode=require"
    )
    assert pgurl.redacted("postgresql:///clinic?host=/run/pg") == "postgresql:///clinic?host=/run/pg"


def test_the_url_is_read_as_libpq_reads_it():
    """An option replaces what the URL wrote before the path, as libpq does: the role
    named in a fix and the service account are the ones the connection uses."""
    from core import pgurl

    assert pgurl.params("postgresql://a:p%40ss@h:5432/db?user=b&port=5433&host=/run/pg") == {
        "user": "b",
        "password": "p@ss",
        "host": "/run/pg",
        "port": "5433",
        "dbname": "db",
    }
    assert pgurl.params("postgresql://[::1]:5433/db") == {"host": "::1", "port": "5433", "dbname": "db"}
    assert pgurl.params("postgresql://%2Frun%2FPG/db?ssl=true") == {
        "host": "/run/PG",
        "dbname": "db",
        "sslmode": "require",
    }


@pytest.mark.parametrize("password", ["Secret/123", "Secret#123", "Secret?123", "a/b:c@Secret", "1234/5678"])
def test_a_password_with_a_reserved_character_written_as_is_is_told_how_to_write_it_and_never_shown(tmp_path, password):
    """A `/`, `?` or `#` cuts the URL's host part short: the check said "the port in
    “admsvc:Secret” is not a number" — part of the password, in stderr and the daemon's
    journal — or "the port in “db.example.org:5432” is not a number", or nothing at all
    (`admsvc:1234/5678@…` read as the host admsvc, port 1234, and shown whole)."""
    url = f"postgresql://admsvc:{password}@db.example.org:5432/clinicast?options=-csearch_path%3Dclinicast"
    msg = refused(tmp_path, MINIMAL.replace("sqlite:///tmp/x.db", url), "database.url: the user name or password")
    assert "percent-encoded" in msg and "%2F" in msg and "%23" in msg and "%3F" in msg, msg
    assert password[:4] not in msg and "port" not in msg and len(msg.splitlines()) == 1, msg


def test_a_percent_encoded_password_loads_and_is_never_shown(tmp_path):
    from core import pgurl

    url = "postgresql://admsvc:S3c%23t%40p%2Fss%3Aw%25rd%3Fx%26y@db.example.org:5432/clinicast"
    assert load_text(tmp_path, MINIMAL.replace("sqlite:///tmp/x.db", url)).database.url == url
    assert pgurl.redacted(url) == "postgresql://admsvc:***@db.example.org:5432/clinicast"
    assert pgurl.redacted("postgresql://u:12@h/db") == "postgresql://u:***@h/db"


def test_postgres_url_with_known_options_loads(tmp_path):
    c = load_text(tmp_path, MINIMAL.replace("sqlite:///tmp/x.db", "postgresql://u@h:5433/db?sslmode=require"))
    assert c.database.url.endswith("?sslmode=require")


def gateway_with_token_file(tmp_path, content: bytes, mode=0o600):
    secret = tmp_path / "token"
    secret.write_bytes(content)
    secret.chmod(mode)
    return load_text(
        tmp_path, MINIMAL.replace('transport = "log"\npath = "g.log"', 'url = "https://gw"\ntoken_file = "token"')
    )


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "is empty"),
        (b"  \n", "is empty"),
        (b"\x00\xff\xfe binary", "not UTF-8"),
        (b"tok\x00en", "control characters"),
        (b"line1\nline2\n", "control characters"),
    ],
)
def test_empty_or_binary_token_file_refused_when_sending(tmp_path, content, expected):
    c = gateway_with_token_file(tmp_path, content)
    with pytest.raises(cfg.ConfigError) as e:
        c.gateway.token  # noqa: B018
    assert f"gateway.token_file: {tmp_path / 'token'}" in str(e.value) and expected in str(e.value)
    assert secrets.problem(c.gateway.token_secret) is not None


def test_group_readable_token_file_is_fine(tmp_path):
    assert gateway_with_token_file(tmp_path, b"s3cret\n", 0o640).gateway.token == "s3cret"


def test_token_file_read_only_when_asked(tmp_path):
    c = gateway_with_token_file(tmp_path, b"first\n")
    (tmp_path / "token").write_text("rotated\n")
    assert c.gateway.token == "rotated"  # nothing was read at load

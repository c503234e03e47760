"""Optional DKIM signing (issue #20): an email sent through a real SMTP server carries a
signature dkimpy verifies with the public key (given by a dnsfunc, as DNS would), over
List-Unsubscribe and List-Unsubscribe-Post too (RFC 8058)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from datetime import datetime

import pytest
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config

from core import campaigns, channel_health, recipients
from core.delivery import Dispatcher

dkim = pytest.importorskip("dkim")
T0 = datetime(2026, 3, 2, 15, 0, 0)


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkim")
    key = d / "dkim.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return key, base64.b64encode(der)


def test_a_signed_email_verifies_with_the_public_key_and_covers_list_unsubscribe(db, db_url, tmp_path, smtp, keypair):
    key, public = keypair
    email = {"dkim_key_file": str(key), "dkim_selector": "clinic2026", "dkim_domain": "example.org"}
    config = delivery_config(db_url, tmp_path, smtp=smtp, email=email)
    ctx, clock = ctx_at(config, T0)
    add_patients(1, language="fr")
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000"])
    recipients.start(ctx, c.id)
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
    assert status_counts(c.id) == {"sent": 1}
    [m] = smtp.messages
    asked = []

    def dns(name, timeout=5):
        asked.append(name)
        return b"v=DKIM1; k=rsa; p=" + public

    assert dkim.verify(m.data, dnsfunc=dns)
    assert asked == [b"clinic2026._domainkey.example.org."]
    signature = m.message["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", " ".join(str(signature).split())).group(1).replace(" ", "").split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(signed)
    # a header changed on the way breaks it
    post = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    assert not dkim.verify(m.data.replace(post, b"List-Unsubscribe-Post: x"), dnsfunc=dns)


def test_an_unreadable_key_pauses_email_instead_of_sending_unsigned(db, db_url, tmp_path, smtp):
    key = tmp_path / "missing.key"
    email = {"dkim_key_file": str(key), "dkim_selector": "s", "dkim_domain": "example.org"}
    key.write_text("not a key\n")
    os.chmod(key, 0o600)
    config = delivery_config(db_url, tmp_path, smtp=smtp, email=email)
    ctx, clock = ctx_at(config, T0)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000"])
    recipients.start(ctx, c.id)
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
    assert smtp.messages == [] and status_counts(c.id) == {"queued": 1}
    [p] = channel_health.problems()
    assert p.problem == "secret" and f"cannot sign with the DKIM key {key}" in p.detail and "dkim_key_file" in p.detail


def test_dkim_settings_come_together(tmp_path):
    from core.config.checks import check_dkim

    problems: list[str] = []
    check_dkim({"dkim_key_file": "k.pem", "dkim_selector": "", "dkim_domain": ""}, tmp_path, problems)
    assert problems == [
        "email.dkim_key_file: DKIM signing needs email.dkim_selector, email.dkim_domain too (or none of the three)"
    ]

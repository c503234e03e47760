"""Email addresses with accents (RFC 5890/5891 domains, RFC 6531/6532 local parts), and
accented subjects written as RFC 2047 encoded-words that read back exactly.

A domain with accents travels in its IDNA form (`rene@xn--clinique--j4a.ca`) in the
envelope and the To header; a local part with accents (`josée@…`) goes with SMTPUTF8
when the server offers it, and otherwise fails that recipient with words of clinicast's
own (translated), not Python's. Real aiosmtpd servers (with and without SMTPUTF8), the
real dispatcher and import, the maildir sink."""

from __future__ import annotations

import email
import email.policy
import itertools
import re
from datetime import datetime
from email.header import decode_header, make_header

import pytest
from helpers import ctx_at
from servers import SmtpServer, client_ssl_context, delivery_config

from core import campaigns, reasons, recipients
from core.channels import compose, make_mailer
from core.channels.base import FINAL, PAUSE
from core.channels.smtp import SmtpMailer
from core.config.types import EmailSettings
from core.csvio import FileProblems
from core.delivery import Dispatcher
from core.models import Patient, Recipient
from core.patients import cells, upsert

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday
SENDER = "Clinique du Parc <no-reply@example.org>"
RENE_ACE = "rene@xn--clinique--j4a.ca"  # rene@clinique-é.ca in IDNA form


def message(to: str, key: str = "k-1", subject: str = "Bonjour à vous") -> bytes:
    return compose.build(
        sender=SENDER,
        to=to,
        subject=subject,
        text="Bonjour\n",
        html="<p>Bonjour</p>\n",
        key=key,
        language="fr",
        list_unsubscribe="mailto:unsubscribe@example.org",
    )


def head(raw: bytes) -> str:
    """The header section, read as an RFC 6532 message is (UTF-8)."""
    return raw.partition(b"\r\n\r\n")[0].decode("utf-8")


def parsed(raw: bytes) -> email.message.EmailMessage:
    """The message parsed back; its UTF-8 headers read as text (the bytes parser would
    keep them as surrogates)."""
    return email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)


def mailer(server: SmtpServer) -> SmtpMailer:
    return SmtpMailer(server.host, server.port, security="none", timeout=5.0, ssl_context=client_ssl_context())


# --- composing ---------------------------------------------------------------------------


def test_an_accented_domain_is_written_in_its_idna_form():
    raw = message(compose.address("René", "rene@clinique-é.ca"))
    assert raw.split(b"\r\n\r\n")[0].isascii()
    to = parsed(raw)["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("René", RENE_ACE)
    assert compose.envelope("rene@clinique-é.ca") == RENE_ACE
    assert compose.envelope("rene@example.org") == "rene@example.org"


def test_an_accented_local_part_is_written_in_utf8():
    raw = message(compose.address("Josée Roy", "josée@clinique-é.ca"))
    assert "To: Josée Roy <josée@xn--clinique--j4a.ca>\r\n" in head(raw)
    to = parsed(raw)["To"].addresses[0]
    assert (to.display_name, to.username, to.domain) == ("Josée Roy", "josée", "xn--clinique--j4a.ca")


def test_a_domain_that_is_no_valid_idn_is_a_clear_refusal():
    with pytest.raises(ValueError) as e:
        compose.address("Paul", "paul@-clinique-é.ca")
    assert str(e.value) == "the domain of the email address paul@-clinique-é.ca is not a valid domain name"
    assert not cells.is_email("paul@-clinique-é.ca") and not cells.is_email("paul@é..ca")
    assert cells.is_email("rene@clinique-é.ca") and cells.is_email("josée@example.org")


# --- SMTP ----------------------------------------------------------------------------------


def test_the_punycode_address_receives_exactly_one_message():
    with SmtpServer() as smtp:  # no SMTPUTF8: an accented domain does not need it
        m = mailer(smtp)
        o = m.send(message(compose.address("René", "rene@clinique-é.ca")), "no-reply@example.org",
                   ["rene@clinique-é.ca"], "k-1")  # fmt: skip
        m.close()
    assert o.ok, o
    assert [c.rcpt_tos for c in smtp.messages] == [[RENE_ACE]]
    (got,) = smtp.messages
    assert not got.smtp_utf8 and got.message["To"].addresses[0].addr_spec == RENE_ACE


def test_an_accented_local_part_goes_with_smtputf8_when_offered():
    with SmtpServer(smtputf8=True) as smtp:
        m = mailer(smtp)
        o = m.send(message(compose.address("Josée", "josée@example.org")), "no-reply@example.org",
                   ["josée@example.org"], "k-1")  # fmt: skip
        # the pooled connection then sends a plain email as before
        o2 = m.send(message("paul@example.org", "k-2"), "no-reply@example.org", ["paul@example.org"], "k-2")
        m.close()
    assert o.ok and o2.ok, (o, o2)
    assert [(c.rcpt_tos, c.smtp_utf8) for c in smtp.messages] == [(["josée@example.org"], True),
                                                                   (["paul@example.org"], False)]  # fmt: skip
    assert parsed(smtp.messages[0].data)["To"].addresses[0].username == "josée"
    assert smtp.connections == 1


def test_without_smtputf8_an_accented_local_part_fails_with_clinicasts_words():
    with SmtpServer() as smtp:
        m = mailer(smtp)
        o = m.send(message(compose.address("Josée", "josée@example.org")), "no-reply@example.org",
                   ["josée@example.org"], "k-1")  # fmt: skip
        after = m.send(message("paul@example.org", "k-2"), "no-reply@example.org", ["paul@example.org"], "k-2")
        m.close()
    where = f"{smtp.host}:{smtp.port}"
    words = reasons.Detail.SMTP_NO_SMTPUTF8
    assert o.status == FINAL
    assert o.error == reasons.detail(words, address="josée@example.org", where=where)
    assert "codec" not in o.error and "SMTPUTF8" in o.error
    # a detail of clinicast's own: said in the reader's language (core.reasons.said)
    assert reasons.said(o.error, "en") == words.format(address="josée@example.org", where=where)
    # nothing went out for her; the next email on the same connection does
    assert after.ok and [c.rcpt_tos for c in smtp.messages] == [["paul@example.org"]] and smtp.connections == 1


def test_without_smtputf8_the_clinics_own_accented_sender_pauses_the_channel():
    with SmtpServer() as smtp:
        m = mailer(smtp)
        raw = compose.build(sender="Clinique <réception@example.org>", to="paul@example.org", subject="x",
                            text="x", html="x", key="k", list_unsubscribe="mailto:u@example.org")  # fmt: skip
        o = m.send(raw, "réception@example.org", ["paul@example.org"], "k")
        m.close()
    assert o.status == PAUSE and "réception@example.org" in o.error and not smtp.messages


# --- maildir -------------------------------------------------------------------------------


def test_the_maildir_sink_writes_both(tmp_path):
    m = make_mailer(EmailSettings(transport="maildir", path=str(tmp_path / "out")))
    for key, name, addr in (("k1", "René", "rene@clinique-é.ca"), ("k2", "Josée", "josée@example.org")):
        assert m.send(message(compose.address(name, addr), key), "no-reply@example.org", [addr], key).ok
    rene = parsed((tmp_path / "out" / "k1.eml").read_bytes())["To"].addresses[0]
    josee = parsed((tmp_path / "out" / "k2.eml").read_bytes())["To"].addresses[0]
    assert (rene.addr_spec, josee.addr_spec) == (RENE_ACE, "josée@example.org")


# --- end to end: imported, started, dispatched -------------------------------------------------


def _import(ctx, tmp_path):
    p = tmp_path / "export.csv"
    p.write_text(
        "emr_id,first_name,language,email,marketing_consent,do_not_contact\n"
        "4001,Paul,fr,paul@example.org,oui,non\n"
        "4002,René,fr,rene@clinique-é.ca,oui,non\n"
        "4003,Josée,fr,josée@example.org,oui,non\n",
        encoding="utf-8",
    )
    upsert.import_csv(ctx, p)
    assert Patient.get(Patient.emr_id == "4002").email == "rene@clinique-é.ca"  # stored as the clinic wrote it


@pytest.mark.parametrize("smtputf8", [False, True], ids=["no-smtputf8", "smtputf8"])
def test_an_invitation_reaches_accented_addresses_once(db, db_url, tmp_path, smtputf8):
    with SmtpServer(smtputf8=smtputf8) as smtp:
        config = delivery_config(db_url, tmp_path, smtp=smtp)
        ctx, clock = ctx_at(config, T0)
        _import(ctx, tmp_path)
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["4001", "4002", "4003"])
        recipients.start(ctx, c.id)
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            clock.advance(minutes=30)
            d.run_once()  # nothing is sent twice
    got = sorted(tuple(m.rcpt_tos) for m in smtp.messages)
    expected = [("paul@example.org",), (RENE_ACE,)] + ([("josée@example.org",)] if smtputf8 else [])
    assert got == sorted(expected)
    josee = Recipient.get(Recipient.patient == Patient.get(Patient.emr_id == "4003").id)
    if smtputf8:
        assert josee.status == "sent"
    else:
        assert (josee.status, josee.reason_code) == ("failed", "send_error")
        assert "SMTPUTF8" in josee.reason and "codec" not in josee.reason
        assert reasons.describe(josee.reason_code, josee.reason, "en") == reasons.Detail.SMTP_NO_SMTPUTF8.format(
            address="josée@example.org", where=f"{smtp.host}:{smtp.port}"
        )
    assert Recipient.get(Recipient.patient == Patient.get(Patient.emr_id == "4002").id).status == "sent"


# --- subjects -------------------------------------------------------------------------------

NAMES = ["Marie-Ève", "Hélène", "Seán", "Zoë", "François", "Léa", "Jean", "Anaïs Côté-Bélanger", "Chloé"]
CLINICS = ["Clinique du Parc", "Clinique médicale Saint-Énée", "GMF Côte-des-Neiges", "Clinique de l'Érablière"]
SUBJECTS = [
    "Votre invitation à l'application de la {clinic} vous attend, {name}",
    "Nouvelle application : la {clinic} vous invite à l'essayer",
    "{name}, la {clinic} vous invite à télécharger son application — valide 14 jours",
    "Rappel : votre code d'invitation pour la {clinic} expire bientôt, {name}",
    "{clinic} : {name}, rejoignez-nous sur l'application des patients",
    "Your invitation to the {clinic} app is waiting, {name}",
    "Bonjour {name}",
    "Invitation",
    "Rappel : {name}, votre invitation de la {clinic} expire dans deux jours ; ne la manquez pas",
    "{name} : https://app.example.org/join/ABCDEFGHJKLMNPQRSTUVWXYZ23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    "Invitation : https://app.example.org/join/ABCDEFGHJKLMNPQRSTUVWXYZ23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    "Codes,vaccins,rendez-vous,rappels,resultats,ordonnances,messages,documents,{name}",
    "Le texte =?utf-8?q?x?= reste du texte pour {name}",
]
_EMPTY_WORD = re.compile(rb"=\?[^?]*\?[qQbB]\?\?=")


def test_accented_subjects_read_back_exactly_with_no_empty_encoded_word():
    frame = compose.Frame(SENDER, "fr")
    bad = []
    for template, name, clinic in itertools.product(SUBJECTS, NAMES, CLINICS):
        subject = template.format(name=name, clinic=clinic)
        raw = frame.build(to="a@example.org", subject=subject, text="x", html="x", key="k",
                          list_unsubscribe="mailto:u@example.org")  # fmt: skip
        header = re.search(rb"\r\nSubject:(.*?)\r\n(?! )", raw, re.S)
        assert header is not None
        value = header.group(1)
        lines = (b"Subject:" + value).split(b"\r\n")
        by_parser = email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
        by_decode = str(make_header(decode_header(value.decode("ascii").replace("\r\n", ""))))
        if (
            by_parser != subject
            or by_decode.strip() != subject
            or _EMPTY_WORD.search(value)
            or any(len(ln) > 78 for ln in lines)
        ):
            bad.append((subject, value))
    assert not bad, f"{len(bad)} subjects written wrong, e.g. {bad[:3]}"


def test_the_import_refuses_a_domain_that_could_never_be_sent_to(db, db_url, tmp_path):
    """An accented domain with no IDNA form is a bad row (SPEC §9: named, nothing
    written); accents before the @ are accepted: the send says whether the server can."""
    config = delivery_config(db_url, tmp_path)
    ctx, _clock = ctx_at(config, T0)
    p = tmp_path / "bad.csv"
    p.write_text("emr_id,email\n4001,josée@example.org\n4002,paul@-clinique-é.ca\n", encoding="utf-8")
    with pytest.raises(FileProblems) as e:
        upsert.import_csv(ctx, p)
    assert "paul@-clinique-é.ca" in str(e.value) and "josée" not in str(e.value)
    assert not Patient.select().exists()

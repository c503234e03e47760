"""Transports against real loopback servers (tests/servers.py): SMTP, the gateway, the sinks."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from servers import GatewayServer, SmtpServer, client_ssl_context, free_port, http_date

from core.channels import compose, make_gateway, make_mailer
from core.channels.base import FINAL, OK, PAUSE, RETRY, UNKNOWN
from core.channels.gateway import HttpGateway, classify, parse_retry_after
from core.channels.sinks import LogGateway, MaildirMailer
from core.channels.smtp import SmtpMailer
from core.config.types import EmailSettings, GatewaySettings

SENDER = "Clinique du Parc <no-reply@example.org>"


def run(coro):
    return asyncio.run(coro)


def message(key="k-1", to="Marie-Ève Tremblay <marie@example.org>", subject="Bonjour à vous"):
    return compose.build(
        sender=SENDER,
        to=to,
        subject=subject,
        text="Bonjour **Marie**\nligne 2\n",
        html="<p>Bonjour <b>Marie</b></p>\n",
        key=key,
        language="fr",
        list_unsubscribe="mailto:unsubscribe@example.org",
    )


# --- classification -------------------------------------------------------------------


class TestClassify:
    @pytest.mark.parametrize(
        "method,status,headers,expected",
        [
            ("POST", 200, {}, OK),
            ("PUT", 201, {}, OK),
            ("POST", 202, {}, OK),
            ("DELETE", 204, {}, OK),
            ("DELETE", 404, {}, OK),
            ("POST", 404, {}, FINAL),
            ("POST", 400, {}, FINAL),
            # our token refused: the clinic's setup, not the patient; the channel pauses
            ("POST", 401, {}, PAUSE),
            ("PUT", 403, {}, PAUSE),
            ("POST", 422, {}, FINAL),
            ("POST", 408, {}, RETRY),
            ("POST", 409, {}, FINAL),
            ("POST", 409, {"retry-after": "3"}, RETRY),
            ("POST", 429, {}, RETRY),
            ("POST", 500, {}, RETRY),
            ("POST", 503, {}, RETRY),
            ("POST", 302, {}, PAUSE),  # a wrong [gateway] url: fixable, not final
        ],
    )
    def test_contract(self, method, status, headers, expected):
        assert classify(method, status, httpx.Headers(headers), b"").status == expected

    def test_final_reason_is_the_gateways_message(self):
        body = json.dumps({"error": {"code": "bad", "message": "title is required"}}).encode()
        o = classify("PUT", 400, httpx.Headers(), body)
        assert (o.status, o.error) == (FINAL, "title is required")

    def test_reason_without_json_body(self):
        o = classify("POST", 502, httpx.Headers(), b"<html>Bad Gateway</html>", "Bad Gateway")
        assert o.status == RETRY and "502" in o.error and "Bad Gateway" in o.error

    def test_retry_after_seconds_and_date(self):
        assert parse_retry_after("7") == 7
        assert parse_retry_after("0") == 0
        assert parse_retry_after(None) is None and parse_retry_after("soon") is None
        now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        later = format_datetime(datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
        assert parse_retry_after(later, now) == 30
        assert parse_retry_after(format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)) == 0
        o = classify("POST", 429, httpx.Headers({"Retry-After": http_date(20)}), b"")
        assert o.status == RETRY and 17 <= o.retry_after <= 21


# --- the HTTP gateway ----------------------------------------------------------------------


def client(server, **kw):
    kw.setdefault("timeout", 2.0)
    return HttpGateway(server.url, "tok", **kw)


PUSH = {"app_id": "a-1", "title": "Vaccins", "body": "La clinique vous écrit", "data": {"broadcast_id": "b"}}


class TestHttpGateway:
    def test_headers_and_success(self, gw):
        async def go():
            g = client(gw)
            try:
                return await g.call("POST", "/v1/push", PUSH, "key-1")
            finally:
                await g.aclose()

        o = run(go())
        assert o.ok and o.data == {"accepted": True}
        (r,) = gw.requests
        assert r.headers["authorization"] == "Bearer tok"
        assert r.headers["user-agent"].startswith("clinicast/")
        assert r.headers["idempotency-key"] == "key-1"
        assert r.headers["content-type"] == "application/json"
        assert r.body == PUSH and gw.pushes == [PUSH]

    def test_repeated_key_is_answered_once(self, gw):
        async def go():
            g = client(gw)
            try:
                return [await g.call("POST", "/v1/push", PUSH, "same") for _ in range(3)]
            finally:
                await g.aclose()

        assert all(o.ok for o in run(go()))
        assert len(gw.pushes) == 1 and gw.replays == 2 and gw.new_by_key["same"] == 1

    def test_faults_are_classified(self, gw):
        gw.fail("status", status=500)
        gw.fail("status", status=429, retry_after="4")
        gw.fail("status", status=503, retry_after=http_date(9))
        gw.fail("drop")
        gw.fail("status", status=400, message="body is not valid")

        async def go():
            g = client(gw, timeout=30.0)  # a timeout no answer comes near, however loaded the machine
            try:
                return [await g.call("POST", "/v1/push", PUSH, f"k{i}") for i in range(6)]
            finally:
                await g.aclose()

        async def held():
            g = client(gw, timeout=0.3)  # the server says nothing until released: this times out
            try:
                return await g.call("POST", "/v1/push", PUSH, "held")
            finally:
                await g.aclose()

        o500, o429, o503, odrop, o400, ok = run(go())
        gw.fail("hold")
        ohang = run(held())
        gw.release.set()
        assert o500.status == RETRY and "injected fault" in o500.error
        assert o429.status == RETRY and o429.retry_after == 4
        assert o503.status == RETRY and 6 <= o503.retry_after <= 9
        assert odrop.status == RETRY and "closed the connection" in odrop.error
        assert ohang.status == RETRY and "timed out" in ohang.error
        assert (o400.status, o400.error) == (FINAL, "body is not valid")
        assert ok.ok and len(gw.pushes) == 1

    def test_lost_answer_then_retry_is_a_replay(self, gw):
        gw.fail("drop", after=True)

        async def go():
            g = client(gw)
            try:
                return [await g.call("POST", "/v1/push", PUSH, "k") for _ in range(2)]
            finally:
                await g.aclose()

        first, second = run(go())
        assert first.status == RETRY and second.ok
        assert len(gw.pushes) == 1 and gw.replays == 1

    def test_unknown_ids_and_refused_push(self):
        with GatewayServer(token="tok", unknown_app_ids={"a-9"}) as gw:

            async def go():
                g = client(gw)
                try:
                    put = await g.call(
                        "PUT",
                        "/v1/broadcasts/b1",
                        {"title": {}, "body_markdown": {}, "starts_at": "x", "ends_at": "y"},
                        "p",
                    )
                    pub = await g.call("POST", "/v1/broadcasts/b1/recipients", {"app_ids": ["a-1", "a-9"]}, "q")
                    push = await g.call("POST", "/v1/push", {**PUSH, "app_id": "a-9"}, "r")
                    gone = await g.call("DELETE", "/v1/broadcasts/b1/recipients/a-7", None, "s")
                    return put, pub, push, gone
                finally:
                    await g.aclose()

            put, pub, push, gone = run(go())
        assert put.ok and pub.data == {"added": 1, "unknown": ["a-9"]}
        assert push.status == FINAL and push.error == "unknown app account a-9"
        assert gone.ok  # 404 on DELETE is success

    def test_connection_refused_is_retried(self):
        async def go():
            g = HttpGateway(f"http://127.0.0.1:{free_port()}", "t", timeout=1)
            try:
                return await g.call("POST", "/v1/push", PUSH, "k")
            finally:
                await g.aclose()

        o = run(go())
        assert o.status == RETRY and "cannot connect" in o.error

    def test_one_pool_of_connections_is_reused(self, gw):
        async def go():
            g = client(gw, concurrency=4)
            try:
                return await asyncio.gather(
                    *[g.call("POST", "/v1/push", {**PUSH, "app_id": f"a-{i}"}, f"k{i}") for i in range(200)]
                )
            finally:
                await g.aclose()

        assert all(o.ok for o in run(go()))
        assert len({r.peer for r in gw.requests}) <= 4 and len(gw.pushes) == 200


# --- sinks ------------------------------------------------------------------------------------


def test_log_gateway_appends_json_lines(tmp_path):
    path = tmp_path / "log" / "gateway.log"
    g = make_gateway(GatewaySettings(transport="log", path=str(path)))
    assert isinstance(g, LogGateway)

    async def go():
        a = await g.call("POST", "/v1/broadcasts/b/recipients", {"app_ids": ["x", "y"]}, "k1")
        b = await g.call("POST", "/v1/push", PUSH, "k2")
        await g.aclose()
        return a, b

    a, b = run(go())
    assert a.ok and a.data == {"added": 2} and b.ok
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["method"], x["path"], x["idempotency_key"]) for x in lines] == [
        ("POST", "/v1/broadcasts/b/recipients", "k1"),
        ("POST", "/v1/push", "k2"),
    ]
    assert lines[1]["body"] == PUSH and lines[0]["at"].endswith("Z")


def test_maildir_writes_one_eml_per_delivery(tmp_path):
    m = make_mailer(EmailSettings(transport="maildir", path=str(tmp_path / "out")))
    assert isinstance(m, MaildirMailer)
    assert m.send(message("k1"), SENDER, ["marie@example.org"], "k1").ok
    assert m.send(message("k1"), SENDER, ["marie@example.org"], "k1").ok  # a retry replaces it
    assert m.send(message("k2"), SENDER, ["paul@example.org"], "k2").ok
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["k1.eml", "k2.eml"]
    parsed = email.message_from_bytes((tmp_path / "out" / "k1.eml").read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<k1@example.org>"


# --- composing ---------------------------------------------------------------------------


def test_message_is_multipart_utf8_crlf_and_parses_back():
    raw = message("5d0c-key", subject="Votre invitation à l'application de la Clinique du Parc — valide 14 jours")
    assert b"\n" not in raw.replace(b"\r\n", b"") and max(len(x) for x in raw.split(b"\r\n")) <= 998
    assert all(len(x) <= 78 for x in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))  # headers folded
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["Subject"] == "Votre invitation à l'application de la Clinique du Parc — valide 14 jours"
    assert m["To"].addresses[0].display_name == "Marie-Ève Tremblay"
    assert m["To"].addresses[0].addr_spec == "marie@example.org"
    assert m["Message-ID"] == "<5d0c-key@example.org>" == compose.message_id("5d0c-key", SENDER)
    assert m["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>"
    assert m["Content-Language"] == "fr" and m.get_content_type() == "multipart/alternative"
    assert m.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Bonjour **Marie**\nligne 2\n"
    assert m.get_body(("html",)).get_content().replace("\r\n", "\n") == "<p>Bonjour <b>Marie</b></p>\n"


# --- SMTP ----------------------------------------------------------------------------------


def mailer(server, **kw):
    kw.setdefault("security", server.security)
    kw.setdefault("timeout", 2.0)
    if server.auth and "username" not in kw:
        kw["username"], kw["password"] = server.auth
    return SmtpMailer(server.host, server.port, ssl_context=client_ssl_context(), **kw)


class TestSmtp:
    @pytest.mark.parametrize("security", ["none", "starttls", "tls"])
    def test_security_modes_with_login_reuse_one_connection(self, security):
        with SmtpServer(security=security, auth=("clinic", "s3cret")) as smtp:
            m = mailer(smtp)
            outcomes = [
                m.send(message(f"k{i}"), "no-reply@example.org", [f"p{i}@example.org"], f"k{i}") for i in range(20)
            ]
            m.close()
        assert all(o.ok for o in outcomes), outcomes
        assert len(smtp.messages) == 20 and smtp.connections == 1 and smtp.logins == ["clinic"]
        got = smtp.messages[3]
        assert got.rcpt_tos == ["p3@example.org"] and got.message["Message-ID"] == "<k3@example.org>"
        assert "Bonjour" in got.part("plain") and "<b>Marie</b>" in got.part("html")

    def test_reconnects_when_the_server_closes(self):
        with SmtpServer(close_every=3) as smtp:
            m = mailer(smtp)
            outcomes = [m.send(message(f"k{i}"), "a@example.org", ["b@example.org"], f"k{i}") for i in range(10)]
            m.close()
        assert all(o.ok for o in outcomes) and len(smtp.messages) == 10
        assert smtp.connections == 4

    def test_a_pooled_connection_timed_out_after_one_message_is_no_refusal(self, monkeypatch):
        """A quiet clinic: each pooled connection carries one email, then sits idle until the
        server's idle timeout closes it with a 421 (Postfix's "421 4.4.2 ... timeout
        exceeded"), read as the next MAIL FROM's answer. However many in a row, each is
        replaced at once: no relay refusing us, no pause."""
        from core.channels import smtp as smtp_module

        monkeypatch.setattr(smtp_module, "LIMIT_RECENT_SECONDS", 0.05)  # minutes, for real
        answer = "421 4.4.2 mx.example.org Error: timeout exceeded"
        with SmtpServer(close_every=1, close_answer=answer) as smtp:
            m = mailer(smtp)
            outcomes = []
            for i in range(smtp_module.MAX_QUICK_RECONNECTS + 3):
                time.sleep(0.1)
                outcomes.append(m.send(message(f"k{i}"), "a@example.org", ["b@example.org"], f"k{i}"))
            m.close()
        assert all(o.ok for o in outcomes), outcomes
        assert len(smtp.messages) == len(outcomes) == smtp.connections

    def test_a_pooled_connection_the_server_dropped_is_replaced_at_once(self):
        with SmtpServer() as smtp:
            m = mailer(smtp)
            assert m.send(message("k0"), "a@example.org", ["b@example.org"], "k0").ok
            smtp.faults.append("drop-before")
            assert m.send(message("k1"), "a@example.org", ["b@example.org"], "k1").ok
            smtp.faults.append("drop-before")
            m2 = mailer(smtp)  # a fresh connection that drops before the data: retry later
            o = m2.send(message("k2"), "a@example.org", ["b@example.org"], "k2")
            m.close(), m2.close()
        assert o.status == RETRY and "before accepting" in o.error
        assert [c.message["Message-ID"] for c in smtp.messages] == ["<k0@example.org>", "<k1@example.org>"]

    @pytest.mark.parametrize("fault", ["lost-250", "drop"])
    def test_a_lost_answer_after_the_data_is_unknown_and_never_resent_at_once(self, fault):
        with SmtpServer() as smtp:
            m = mailer(smtp)
            assert m.send(message("k0"), "a@example.org", ["b@example.org"], "k0").ok  # pooled
            smtp.faults.append(fault)
            o = m.send(message("k1"), "a@example.org", ["b@example.org"], "k1")
            m.close()
        assert o.status == UNKNOWN and "may have been delivered" in o.error
        ids = [c.message["Message-ID"] for c in smtp.messages]
        assert ids == (["<k0@example.org>", "<k1@example.org>"] if fault == "lost-250" else ["<k0@example.org>"])

    @pytest.mark.slow  # a wall-clock bound: out of the quick run (`-m "not slow"`)
    def test_a_slow_drip_answer_is_cut_off_by_the_deadline(self):
        with SmtpServer(delay=3.0) as smtp:
            m = SmtpMailer(smtp.host, smtp.port, security="none", timeout=0.5)
            t0 = time.monotonic()
            o = m.send(message("k1"), "a@example.org", ["b@example.org"], "k1")
            m.close()
        assert time.monotonic() - t0 < 2.0
        assert o.status == UNKNOWN and "did not answer in time" in o.error

    def test_one_refused_address_fails_only_that_message(self):
        with SmtpServer() as smtp:
            smtp.faults += ["rcpt 550 5.1.1 no such user", "rcpt 452 4.2.2 mailbox full"]
            m = mailer(smtp)
            nouser = m.send(message("k1"), "a@example.org", ["x@example.org"], "k1")
            full = m.send(message("k2"), "a@example.org", ["y@example.org"], "k2")
            ok = m.send(message("k3"), "a@example.org", ["b@example.org"], "k3")
            m.close()
        assert nouser.status == FINAL and "no such user" in nouser.error
        assert full.status == RETRY and "452" in full.error
        assert ok.ok and smtp.connections == 1

    def test_temporary_and_permanent_answers(self):
        with SmtpServer() as smtp:
            smtp.faults += ["451 4.3.0 mailbox busy, try later", "550 5.1.1 no such user here"]
            m = mailer(smtp)
            busy = m.send(message("k1"), "a@example.org", ["b@example.org"], "k1")
            nouser = m.send(message("k2"), "a@example.org", ["b@example.org"], "k2")
            ok = m.send(message("k3"), "a@example.org", ["b@example.org"], "k3")
            m.close()
        assert busy.status == RETRY and "451" in busy.error
        assert nouser.status == FINAL and "no such user here" in nouser.error
        assert ok.ok and smtp.connections == 1

    def test_wrong_password_pauses_the_channel_and_a_missing_server_is_retried(self):
        with SmtpServer(security="starttls", auth=("clinic", "s3cret")) as smtp:
            o = mailer(smtp, username="clinic", password="nope").send(message(), "a@x.org", ["b@x.org"], "k")
            assert (o.status, o.problem) == (PAUSE, "smtp_login") and "login" in o.error and "refused" in o.error
            # a server that requires STARTTLS, reached without it: the session is wrong, not the message
            o2 = mailer(smtp, security="none", username="").send(message(), "a@x.org", ["b@x.org"], "k")
            assert (o2.status, o2.problem) == (PAUSE, "smtp_sender")
        o3 = SmtpMailer("127.0.0.1", free_port(), security="none", timeout=1).send(
            message(), "a@x.org", ["b@x.org"], "k"
        )
        assert o3.status == RETRY and "cannot connect" in o3.error

    def test_concurrent_senders_share_a_bounded_pool(self):
        from concurrent.futures import ThreadPoolExecutor

        with SmtpServer() as smtp:
            m = mailer(smtp, concurrency=3)
            with ThreadPoolExecutor(3) as ex:
                outcomes = list(ex.map(lambda i: m.send(message(f"k{i}"), "a@x.org", ["b@x.org"], f"k{i}"), range(60)))
            m.close()
        assert all(o.ok for o in outcomes) and len(smtp.messages) == 60 and smtp.connections <= 3

    def test_made_from_settings(self):
        with SmtpServer() as smtp:
            m = make_mailer(EmailSettings(transport="smtp", host=smtp.host, port=smtp.port, security="none"))
            assert isinstance(m, SmtpMailer)
            assert m.send(message(), "a@x.org", ["b@x.org"], "k").ok
            m.close()
        assert isinstance(make_gateway(GatewaySettings(url="http://127.0.0.1:1")), HttpGateway)

"""Real loopback servers for the delivery tests and the bench — no mocks.

- `SmtpServer`: an aiosmtpd server capturing every message; plain, STARTTLS or implicit
  TLS, optional AUTH; faults: temporary (4xx) / permanent (5xx) answers, dropped
  connections, 421 "closing" after N messages on one connection.
- `GatewayServer`: a threaded HTTP/1.1 server playing the app gateway of
  gateway-api.md: bearer token, Idempotency-Key (a repeated key gets the first answer
  and changes nothing), broadcasts with audiences, pushes; unknown app ids; faults: any
  status with an error body, 429/503 with Retry-After (seconds or HTTP date), hangs
  (client timeouts), dropped connections — before the request is processed or after
  (the answer is lost but the work was done). Every request is recorded.

Both run in a background thread of the calling process (`with GatewayServer() as gw:`)
or as a process of their own: `python tests/servers.py gateway|smtp [--port N]` prints
`READY <port>` and serves until stdin closes or SIGTERM (for the bench and for trying
`clinicast daemon` by hand).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.server
import json
import os
import random
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

# --- a self-signed certificate for localhost / 127.0.0.1 (test use only, 100 years) ------

TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIUc8aLEhooQqMOjaFAMMolpyKRfYUwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjEyNDIyMVoYDzIxMjYx
MTAyMTI0MjIxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQCoTxtHQbBZ8E81wzXcrdHPmsAAdzaHyYhMKPMuneF0
IE18nM/0MGLvHi0SLUYZtAckztOV3N42P9ek3ivc1CAijaYjOTF0Q7RqTEMS9rSG
zZrDO00qIlEiQ/8Ei+TZ5TeQYQsZOoMorjZkknCjK7xY1bNvQQJD/oaOV18LG9GT
x0Iz2Pa463Wt2EPFbKB95uHfjGwsrmSyfAMLzHIs1e7uiYVli4520jdXFULZx6Zu
kfbY006HrUNbK/Qz4sBz/sa5WKVtYY6+49bPu2Uejccnux9ZuoiHo9pbOSAP3j7v
HtstaE+NTaAtenCEAbKtCeI5WTOS5qfo57iYTt0xHaMXAgMBAAGjbzBtMB0GA1Ud
DgQWBBSodZTf7CHGUfTEQTukmI/aimXbqDAfBgNVHSMEGDAWgBSodZTf7CHGUfTE
QTukmI/aimXbqDAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxvY2FsaG9z
dIcEfwAAATANBgkqhkiG9w0BAQsFAAOCAQEAj4nkmbydrrIbOWGbpiKO4lKfpcNa
sVwKPO3UOgPdyS+4HN3v5bSlX4fc+UK2ksLb+c1ta4BNYwila71dd6ujXW0nhQ3g
N+Ty8NbqqBxxcJwnhhZiI+9z1Ep8+RLQOyShXAQdTnIV9TbeaC4Su5oTX44YhVS5
flT8znOOlOVwnC1K8xybObQyP0VUpDUDwD1xV2tFDkzIdhkmN5/3e2wkcg/mC1Gj
0Fi5MguxRCd71L09z+jm1vXRH0pdE09MRS4lekcT0rANNDGnNZwlTmbiWhcS+6k2
pHWOpEcICkVVVt7WR7zXyu83euL76bMo1Gm3oRlWCC38AjBYdujtZC4EwA==
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCoTxtHQbBZ8E81
wzXcrdHPmsAAdzaHyYhMKPMuneF0IE18nM/0MGLvHi0SLUYZtAckztOV3N42P9ek
3ivc1CAijaYjOTF0Q7RqTEMS9rSGzZrDO00qIlEiQ/8Ei+TZ5TeQYQsZOoMorjZk
knCjK7xY1bNvQQJD/oaOV18LG9GTx0Iz2Pa463Wt2EPFbKB95uHfjGwsrmSyfAML
zHIs1e7uiYVli4520jdXFULZx6ZukfbY006HrUNbK/Qz4sBz/sa5WKVtYY6+49bP
u2Uejccnux9ZuoiHo9pbOSAP3j7vHtstaE+NTaAtenCEAbKtCeI5WTOS5qfo57iY
Tt0xHaMXAgMBAAECggEADcPqhzloIvL0h4EftpzAvCn76g3V9+UTsKbovLdM6SJ7
M+XfXClY7hWZuhLZ2OBQdUI1K9yUj/tIt8Mz8yumNS1AmUDkOo4PA2KZWcOzoBLQ
xYbkGL4VxKerA8QtQ2Tr1nMZZUbT00/sQu13KOE61kkkE8VNWiJG/v1GWLI9wcg4
PbhjXVF/jfKD8ktil74GuSGID/IJHfO8QlpyzWAwRn2XqWUwdcDsfK6T+eKS4ta5
kJCYgmlkZIc+kxaeBrxelqkTo5JYL1UiQX0yk0++t8DP5f+kFuOjvELCk9UjRBoR
wuX8cL1PUg77T+iJjMK8asZYjefOQWKgqb76u+mIgQKBgQDPlqKzzG49v6JjfnXy
sBwEAcPYfDWgeDxrQtIvABPoj5kT02o4X6Ua+PVeFPb01CEblMIw4nx065JzFEoN
dWAODc+uSNn9S8/kCYAm/pzEsJhfhNjNAXCaCPjhQKifRYmDtehx/Z+uf2Z7yXpy
LnPCgUGN80f1wehrq9I8PeJ74wKBgQDPj207AmsHDK3DAjgqNzg3sphgazadQUa/
O0i6A1lxzRU2ZTGtcs/GITnYI0K17gqg1xFyU1UpePpoLRqOcMAXSJb+Li2ZAt8k
5NMexOSvk27NQvIQCUUViDKLrTeTwioTmYR7bNNizwTMR7e1KSz+NtBrV8UWlcLV
HvCR6RfKPQKBgQCQRsSsLCBOoFsPxXvagZXnHwbr9mAbOJXdgqKsceRkVTFyOxTv
O2J4HaIDkpSVUr3z+m8BJNiVNokhnG9fbT2mZuj5275OMpu5hPThpUJ13br5YE6C
JUcKd8PqYlMP53eM6Cg22axazkb/L+f/ZdOk0ssqCnTwFKYh91h18BjyOwKBgBtK
Z3lPyxTFNP+kBhB+7DRelixvTGIG2C+CswBKOnN9HKHnUk3U/760Va+2iynyn5Eg
VhnrHRJz5rDV5Vz/NDKbh8bp+XLZ7s8iCyRLjSoMv4/bkopLPbskCklVQC58ZB3p
nILB/1VJlP7rGxuFy3WtbV//zVk33cM56zW0KT2dAoGBAIK/ravJIWcZB85EJp97
4SvSw3B4e7yVZwlxCk+NAJ0E4AgYgzGvdskxpra7OwQ6GnicqPc5Yq/4rut+2SdA
SLEdzhNUWX36L80ZL+N7ngJ54k2Sh3l17GXge32kJzNcf+oI/Wf6e56cGS5daTk5
4rKq+PdPna2zP0PzVB46HlIh
-----END PRIVATE KEY-----
"""


def cert_files() -> tuple[str, str]:
    """Paths of the test certificate and key, written once per process."""
    global _CERT_FILES
    if _CERT_FILES is None:
        d = Path(tempfile.mkdtemp(prefix="clinicast-tls-"))
        (d / "cert.pem").write_text(TEST_CERT)
        (d / "key.pem").write_text(TEST_KEY)
        os.chmod(d / "key.pem", 0o600)
        _CERT_FILES = (str(d / "cert.pem"), str(d / "key.pem"))
    return _CERT_FILES


_CERT_FILES: tuple[str, str] | None = None


# --- a clinic's own CA and a certificate it signed for localhost / 127.0.0.1 (100 years):
# a server "switched" to it is trusted by a client whose CA file is CLINIC_CA -------------
CLINIC_CA = """-----BEGIN CERTIFICATE-----
MIIDKzCCAhOgAwIBAgIURrQaAqyp4AAK0TD092adA+6/TSEwDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRY2xpbmljYXN0IHRlc3QgQ0EwIBcNMjYxMjA2MDQ1NzE2
WhgPMjEyNjExMTIwNDU3MTZaMBwxGjAYBgNVBAMMEWNsaW5pY2FzdCB0ZXN0IENB
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqABzGcgdBL5PnQ0Lg4oE
+1qKtsKYJXW8gLqbT+PpGgEnqkAPsdnh+OBK287xO1d4SMffsbSMZh54KmwWPb8C
3KXePy4alYQHgPhY6F/6K9s7etVe61tlKinWUHREiaq0c0Bz2aQtN7ImpjAltVKW
1nobfrh16YH9pTASZWk81qWPM58/3sKHu/IiegcNbCCcN60x+WH2Ph/Hs2owIepq
yUUXny6UDE5/NjM0twUWGu3a0vLx6hU2z6wL59exsNWqpcgIQRFj4MmUKoKCKKVj
G/OGtxS0vOklInjrlxE2ymL3MqLkYcDxexha4fBzmcHCeTO0CVWvDlTjalGaMWyE
3wIDAQABo2MwYTAdBgNVHQ4EFgQU01usBXqP7BOwuRv9qzmc7mA3/G8wHwYDVR0j
BBgwFoAU01usBXqP7BOwuRv9qzmc7mA3/G8wDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwDQYJKoZIhvcNAQELBQADggEBAGINRiR+x6ngSf979n0dcVeU
kzYcoKivCM1fA5dgVZbPSxAoilsrCkuObDM+AgMDP99soFgVw69AI3Gq7O+kQCkc
FnqzLKnCoiZRU9vTVlNa/ruVqnW3Wdr1XWPwN2VO0cNEbL5CLIJChdo1htdgozHS
gfPwWOy5Dzi43xOpjKiOCN0/1RFE5NgCDGbxyUodatMbohs++AELHWrkk32xZsMn
c1uki/EGxRWu85qvsoC2yStjCtLJs82IPurw8TVcOXXUPrk3fP1yoJ6Y31A4+EcW
ynQfvZlwrdPpDDxHynh0jQ/8PjheMRtaBNyAzhJje81vVrE09MNtaRBXnpOV0HA=
-----END CERTIFICATE-----
"""
CLINIC_CERT = """-----BEGIN CERTIFICATE-----
MIIDTTCCAjWgAwIBAgIUdWWiohOExR0wZFTIdb0v66dug/EwDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRY2xpbmljYXN0IHRlc3QgQ0EwIBcNMjYxMjA2MDQ1NzE2
WhgPMjEyNjExMTIwNDU3MTZaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDCCASIwDQYJ
KoZIhvcNAQEBBQADggEPADCCAQoCggEBAKalcO85xdmThwAJvU7fd/FEzp0SkWgg
NIYNJJOyoW7nE5I7cQuMK+UHa+tfy8Dd5W0vBubgI0TdnRFkysKz8fARQ9WzPWBR
LkrUTIuxKZHL+jNdWDLeWf8vfNOiT3bKtQW/Tv9Km3YVZBxRc3NGabuLLysB6r8M
FCT0rt/ZymyksKyVMEj9fgI8tAVYXxuTvi6mdDNAj8DQYgXCZJWQVZEP7igcLJTC
AkhbxgHoVawpFMyhyu7PagG/P3HyoPzDwYp1Eu5V3D+Oxqc+V2B6QlGQiDJ/qLfE
Ynv62MWb+Bz7DQnuiaTnk74R+FLPYQM2JdlAlBRSncD2tMG+4GDj5LcCAwEAAaOB
jDCBiTAJBgNVHRMEAjAAMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAAATALBgNV
HQ8EBAMCBaAwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFLOH7eeDmI2j
T3b2rf6xDgfaU/R1MB8GA1UdIwQYMBaAFNNbrAV6j+wTsLkb/as5nO5gN/xvMA0G
CSqGSIb3DQEBCwUAA4IBAQB2soCsO9LJ1UHMVSABWXXXPceJ623moKONBMR+a8b4
oYfNGhPozcDZ/2CtVvVZdu3Ma4PayRkpWc+whYl6ITyyNpm7CGF/Hqjm/gWtsRYH
Ipo1Kno1IteZnvK3dJQoE6mhuYcKTm+fMbCrcNpqx9TDhxccA0tzPaG8CFQ6Sl7H
N33g3UcEp50d4QoRviPLJtUX4Iw/pFc2XKi6oew6J+D0sM2xUksSrSQkCaPMvD+z
PFwF3Tn+hiqUhzKX/WQVArt9Ns+E5J/DZdw795g0i3tyMLg6PQoTZjpSVW4raqnl
Ibg+M9QbV7MGV0ZlE/+k4tha+Jk+4xPNLTDZSRWq8ReR
-----END CERTIFICATE-----
"""
CLINIC_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCmpXDvOcXZk4cA
Cb1O33fxRM6dEpFoIDSGDSSTsqFu5xOSO3ELjCvlB2vrX8vA3eVtLwbm4CNE3Z0R
ZMrCs/HwEUPVsz1gUS5K1EyLsSmRy/ozXVgy3ln/L3zTok92yrUFv07/Spt2FWQc
UXNzRmm7iy8rAeq/DBQk9K7f2cpspLCslTBI/X4CPLQFWF8bk74upnQzQI/A0GIF
wmSVkFWRD+4oHCyUwgJIW8YB6FWsKRTMocruz2oBvz9x8qD8w8GKdRLuVdw/jsan
PldgekJRkIgyf6i3xGJ7+tjFm/gc+w0J7omk55O+EfhSz2EDNiXZQJQUUp3A9rTB
vuBg4+S3AgMBAAECggEAJ5yHvbWD2/X/TvkBsK/ZuNXcLuXs/k05buvM1/bL/Kqc
slPCyTXmcShUdLxumEemc0+MWnDIsWPkI/BLagCP77qK308dtblWQZ85GrNf6DIO
JQt5HY5Q4iGNkFiyftAsO1OAGZrIXUc0Zq7NvIbuNxAchCKOhB8A4s/uiXMhdLVG
ta7idtfvZp1jlj8snjLE0RZ3HmqZn3w/CTtD1MV98tLQVDkQNq8hpGRUroBWkSOe
T6uclW7WueL1Ln8hYd/Damiq2jkXzZ3IK5BYI2pZ4d7UfEZAFssp6vj9pBkrEMve
egr6GVBtehd0uVFy4g7V3U5Uk9rpPodGkrZ2t4ODEQKBgQDUoRSfqXz75qwTHlUs
dkdoiBwylPmpC1Ecy/R+eQ4hJ6FVXgtCZBNllpdyH+vpPWrSyVxilerjf2IXU3u3
Z09kxygVolGZwDywecxWi5JKVVhx2HwPTmlSdMlBvaJ7CZ3F9i2C5rvIUyNQctJf
ktA7F/fMrIIXowVJFt/6OacISwKBgQDIo0FToGpq7XCUfBWF+TelBsDP2gAryzEB
fusZnPaj5ByKzco+bp0v8h7kHyrYzaB05wHDb+BIcdZJUtD4OdX0q7NylYpr/x0k
QVqsNBSdCfqFlnocd6pCkzl3yivrirBHRpunhdQgLD1kMHn2TifMxzJ22IX/JFfy
dGStMgOpxQKBgQCRBn0mmVeiCKd9MsctWE9EQPHanjnaztk4JvRP/wlgG8Oykj5j
vhZsx9XsBVHG+BkQRD87Dr3zBUNGXa6YXWKNfjkc6GV31OKQC8MPlIrnIGb+34Ve
e0Di+Lz8lfdorBpsl4hbLD0QWYRQrsBGZ8CXTbW6aD8jGBHW1D9YUFJZGQKBgBX3
QaStMFlqi2PGPfj/8uafWaan4FLrGP9n7MdOFvaUd8d+hkDVjWH9aQJioyc/Q+zo
iZni+rQTunkmlvhGJLV3wtqtooz2TjN08D9gKE2VFRdhBRduxnYpdiY2PR65fVkg
UtRBY5ruHP6GDCQ6JENYH59BT1JCoVpLAeawThRdAoGAOaR6aswCVHUnrR1bT7D/
aKx+lRyPBgjftH57wApWa4gEQ2MlTEVyEJ1gAn8dLQNSMqWylQJiEhmutG7Z0okr
Kyrz6Xa7c/MkPshQ9uz/ae7rjqxJCpza+V4UVH4Ud84l0XBxwbBE0rkszDptBkZG
DpXM7BAYFIO5AntpnQpPgJ4=
-----END PRIVATE KEY-----
"""
_CLINIC_FILES: tuple[str, str, str] | None = None


def clinic_ca_files() -> tuple[str, str, str]:
    """Paths of the clinic CA, the certificate it signed and that certificate's key."""
    global _CLINIC_FILES
    if _CLINIC_FILES is None:
        d = Path(tempfile.mkdtemp(prefix="clinicast-ca-"))
        for name, text in (("ca.pem", CLINIC_CA), ("cert.pem", CLINIC_CERT), ("key.pem", CLINIC_KEY)):
            (d / name).write_text(text)
        os.chmod(d / "key.pem", 0o600)
        _CLINIC_FILES = (str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem"))
    return _CLINIC_FILES


def server_ssl_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert_files())
    return ctx


def switch_to_clinic_certificate(ctx: ssl.SSLContext) -> None:
    """A server's TLS context presents the clinic-CA-signed certificate from its next
    handshake on (the self-signed one before): the relay's administrator fixed it."""
    _, cert, key = clinic_ca_files()
    ctx.load_cert_chain(cert, key)


def client_ssl_context() -> ssl.SSLContext:
    """A client context that trusts the test certificate (and checks the host name)."""
    ctx = ssl.create_default_context(cafile=cert_files()[0])
    return ctx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# =========================================================================================
# SMTP
# =========================================================================================


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    connection: int
    smtp_utf8: bool = False  # the client said SMTPUTF8 at MAIL FROM

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    def part(self, subtype: str) -> str:
        return self.message.get_body((subtype,)).get_content().replace("\r\n", "\n")


class _SmtpHandler:
    def __init__(self, owner: SmtpServer):
        self.owner = owner

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        o = self.owner
        with o.lock:
            session_no = getattr(session, "clinicast_conn", 0)
            if o.close_at == "mail" and o._at_limit(session_no):
                return o._close_for_limit(server)
            if o.refuse_from:  # a relay refusing the clinic's sender, every message while set
                o.fault_log.append("mail " + o.refuse_from)
                return o.refuse_from
            if o.faults and o.faults[0] == "drop-before":
                o.fault_log.append(o.faults.pop(0))
                server.transport.close()
                return "421 4.4.2 idle connection closed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        o = self.owner
        with o.lock:
            if o.close_at == "rcpt" and o._at_limit(getattr(session, "clinicast_conn", 0)):
                return o._close_for_limit(server)
            if o.faults and o.faults[0].startswith("rcpt "):
                fault = o.faults.pop(0)
                o.fault_log.append(fault)
                return fault[len("rcpt ") :]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        o = self.owner
        with o.lock:
            session_no = getattr(session, "clinicast_conn", 0)
            o._per_connection[session_no] = o._per_connection.get(session_no, 0) + 1
            if o.faults and not o.faults[0].startswith(("drop-before", "rcpt ")):
                fault = o.faults.pop(0)
                o.fault_log.append(fault)
                if fault == "drop":
                    server.transport.close()
                    return "421 4.3.0 gone"
                if fault == "lost-250":
                    o.messages.append(
                        Captured(envelope.mail_from, list(envelope.rcpt_tos),
                                 envelope.original_content or envelope.content, session_no)
                    )  # fmt: skip
                    server.transport.close()
                    return "250 2.0.0 OK (never heard)"
                return fault
            o.messages.append(
                Captured(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                    session_no,
                    bool(envelope.smtp_utf8),
                )
            )
        if o.delay:
            await asyncio.sleep(o.delay)
        if o.pairs is not None:
            await o.paired()
        return "250 2.0.0 OK queued"


class SmtpServer:
    """`with SmtpServer(security="starttls", auth=("u", "p")) as smtp:` … `smtp.messages`.

    Faults: `smtp.faults` is a list consumed one per message: an SMTP answer to the data
    such as "451 4.3.0 try later" or "550 5.1.1 no such user"; "drop" (close the
    connection once the data is in, without answering, and lose the message); "lost-250"
    (keep the message — the patient gets it — then close without answering: the client
    cannot know); "drop-before" (close the connection at MAIL FROM: an idle connection
    the server had dropped); "rcpt 550 ..." / "rcpt 451 ..." (answer RCPT TO).
    `close_every=N` answers `close_answer` (a 421) and closes a connection on its N+1th
    message (a server limiting messages per connection: Exim's smtp_accept_max_per_connection),
    at MAIL FROM or, with `close_at="rcpt"`, at RCPT TO. `delay` seconds before each 250. `refuse_from`, an
    answer to every MAIL FROM while set ("553 5.7.1 sender not allowed": a relay that
    refuses the clinic's sender), "" to accept again. `greeting`, an answer instead of
    the 220 greeting to every connection while set ("421 4.7.0 too many connections": a
    hosted relay's rate limit), then it hangs up. `smtputf8=True` offers SMTPUTF8
    (RFC 6531: addresses with accents before the @); off by default, as aiosmtpd's.
    """

    def __init__(
        self,
        *,
        security: str = "none",
        auth: tuple[str, str] | None = None,
        close_every: int = 0,
        close_answer: str = "421 4.7.0 too many messages on this connection",
        close_at: str = "mail",
        delay: float = 0.0,
        port: int = 0,
        host: str = "127.0.0.1",
        smtputf8: bool = False,
    ):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult

        self.security, self.auth, self.close_every, self.delay = security, auth, close_every, delay
        self.close_answer, self.close_at = close_answer, close_at
        self.pairs: float | None = None  # see paired()
        self._pair_waiting: asyncio.Future | None = None
        self.host = host
        self.messages: list[Captured] = []
        self.faults: list[str] = []
        self.fault_log: list[str] = []
        self.refuse_from = ""
        self.greeting = ""  # an answer instead of the 220 greeting, then hang up, while set
        self.lock = threading.Lock()
        self.connections = 0
        self.logins: list[str] = []
        self._per_connection: dict[int, int] = {}
        owner = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            ok = owner.auth is not None and (login, password) == owner.auth
            if ok:
                owner.logins.append(login)
            return AuthResult(success=ok, handled=False)

        kwargs: dict = {"server_hostname": "localhost", "enable_SMTPUTF8": smtputf8}
        self.tls_context = server_ssl_context()  # switch_to_clinic_certificate(smtp.tls_context)
        if security == "starttls":
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if auth is not None:
            # implicit TLS is not seen by aiosmtpd as "TLS" (only STARTTLS is)
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=security == "starttls")
        else:
            kwargs.update(auth_require_tls=False)

        class _Smtp(SMTP):
            async def _handle_client(self) -> None:
                with owner.lock:
                    refusal = owner.greeting
                    if refusal:
                        owner.fault_log.append("greeting " + refusal)
                if not refusal:
                    return await super()._handle_client()
                await self.push(refusal)  # a relay refusing the connection (its rate limit)
                assert self.transport is not None
                self.transport.close()

        class _Controller(Controller):
            def factory(self):
                proto = _Smtp(self.handler, **self.SMTP_kwargs)
                with owner.lock:
                    owner.connections += 1
                    number = owner.connections
                real_connection_made = proto.connection_made

                def connection_made(transport, _orig=real_connection_made):
                    _orig(transport)
                    proto.session.clinicast_conn = number

                proto.connection_made = connection_made
                return proto

            async def _create_server(self):
                srv = await self.loop.create_server(
                    self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
                )
                self.port = srv.sockets[0].getsockname()[1]
                return srv

        import warnings

        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        self._controller = _Controller(
            _SmtpHandler(self),
            hostname=host,
            port=port,
            ssl_context=self.tls_context if security == "tls" else None,
            data_size_limit=10_000_000,
            **kwargs,
        )

    def _at_limit(self, session_no: int) -> bool:
        """Whether a connection carried its `close_every` messages (under self.lock)."""
        return bool(self.close_every) and self._per_connection.get(session_no, 0) >= self.close_every

    def _close_for_limit(self, server) -> str:
        """A server limiting messages per connection: it says so, then hangs up (under self.lock)."""
        self.fault_log.append("421 after close_every")
        asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return self.close_answer

    async def paired(self) -> None:
        """With `pairs` set (seconds): the server answers emails two at a time. An email's
        250 waits for another connection's email (0.5 s at most); the first of the two is
        answered then, the second `pairs` seconds after it — a client's connections hear
        back a known moment apart. Runs on the server's own loop (no lock)."""
        partner = self._pair_waiting
        if partner is None:
            mine = self._pair_waiting = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(mine), 0.5)
            except TimeoutError:
                pass
            finally:
                if self._pair_waiting is mine:
                    self._pair_waiting = None
            return
        self._pair_waiting = None
        partner.set_result(None)
        await asyncio.sleep(self.pairs or 0.0)

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> SmtpServer:
        self._controller.start()
        with self.lock:
            self.connections = 0  # the controller's own readiness probe does not count
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Captured]:
        end = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < end:
            time.sleep(0.01)
        return self.messages

    def settings(self, **overrides) -> str:
        """An [email] TOML table pointing at this server."""
        values = {
            "transport": "smtp",
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "from": "Clinique du Parc <no-reply@example.org>",
        }
        if self.auth:
            values["username"] = self.auth[0]
        values.update(overrides)
        return "[email]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


# =========================================================================================
# App gateway
# =========================================================================================


@dataclass
class Fault:
    """One injected fault, consumed by the first request that matches it.

    kind: "status" (answer `status` with an error body and `retry_after`), "hang"
    (sleep `seconds` before answering normally: the client times out), "hold" (say nothing
    until the test sets `GatewayServer.release`, or the server stops: a client's timeout
    fires whatever the machine's load, and nothing else waits on a clock), "drop" (close the
    connection without an answer), "drip" (send the headers, then one byte of the body
    every `seconds`: a per-read timeout never fires). `after=True` processes the request first (its effect
    and its idempotency record stay) and only then fails: the answer is lost.
    """

    kind: str
    status: int = 500
    retry_after: str | None = None
    message: str = "injected fault"
    seconds: float = 0.0
    after: bool = False
    then: str = "drop"  # "hold" only: after the release, "drop" the connection or "answer" as usual
    method: str | None = None
    path: str | None = None  # a prefix, or a regex when it starts with ^
    count: int = 1

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        if self.path:
            if self.path.startswith("^"):
                return re.match(self.path, path) is not None
            return path.startswith(self.path)
        return True


@dataclass
class Request:
    method: str
    path: str
    headers: dict  # lower-cased names
    body: object
    key: str | None
    status: int = 0
    replay: bool = False
    fault: str = ""
    peer: tuple | None = None  # the client's (host, port): one per pooled connection
    at: float = field(default_factory=time.monotonic)


_BROADCAST = re.compile(r"^/v1/broadcasts/([^/]+)$")
_AUDIENCE = re.compile(r"^/v1/broadcasts/([^/]+)/recipients$")
_MEMBER = re.compile(r"^/v1/broadcasts/([^/]+)/recipients/([^/]+)$")
_PUSH = re.compile(r"^/v1/broadcasts/([^/]+)/push$")


class GatewayServer:
    """`with GatewayServer(token="t") as gw:` … `gw.url`, `gw.requests`, `gw.pushes`.

    State: `broadcasts[id] = {"content": {...}, "audience": set(app_ids)}`, `pushes`
    (new pushes only, in arrival order), `new_by_key` (how many times each key was
    processed as new work: the gateway dedups, so more than 1 never happens — what
    the tests check is that every delivery has one key and each key arrived).
    `unknown_app_ids`: ids the gateway answers as unknown (publish) or refuses (push).
    """

    def __init__(
        self,
        *,
        token: str | None = "test-token",
        port: int = 0,
        host: str = "127.0.0.1",
        unknown_app_ids: set[str] | None = None,
        record: bool = True,
        latency: float = 0.0,
        tls: bool = False,
    ):
        self.token = token
        self.tls = tls  # https with the test certificate (cert_files), which clients do not trust by default
        self.unknown_app_ids = set(unknown_app_ids or ())
        self.record = record
        self.latency = latency
        # a gateway (or the proxy before it) taking fewer app ids a request than the
        # contract's 500: a bigger recipients or push request is answered 413 (0: no limit)
        self.max_ids = 0
        # called with (method, path) in the handler's thread as each request arrives, before
        # it is answered: a test acts at that moment (e.g. stops a dispatcher mid-send)
        self.on_request: Callable[[str, str], None] | None = None
        self.release = threading.Event()  # ends every "hold" fault
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.random_faults: list[tuple[float, Fault]] = []
        self.rng = random.Random(1234)
        self.broadcasts: dict[str, dict] = {}
        self.pushes: list[dict] = []  # one per (broadcast, app id) notified, in arrival order
        self.pushed: set[tuple[str, str]] = set()
        self.push_repeats = 0  # ids dropped because that broadcast already notified them
        self.answers: dict[str, tuple[int, dict, bytes]] = {}
        self.new_by_key: Counter = Counter()
        self.replays = 0
        self.count = 0
        # the opt-out feed (GET /v1/opt-outs): items in the order the gateway learnt them;
        # the cursor is "c-<index>" of the next item
        self.opt_out_items: list[dict] = []
        self.unsubscribe_clicks: list[str] = []  # tokens POSTed to /unsubscribe/<token>
        owner = self

        class Handler(_GatewayHandler):
            gateway = owner

        self._httpd = _HttpServer((host, port), Handler)
        self.tls_context = server_ssl_context()  # switch_to_clinic_certificate(gw.tls_context)
        if tls:  # the handshake happens at accept: a client refusing the certificate is never a request
            self._httpd.socket = self.tls_context.wrap_socket(self._httpd.socket, server_side=True)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self) -> GatewayServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="gateway-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_all()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail(self, kind: str = "status", count: int = 1, **kw) -> None:
        """Queue `count` faults (see Fault)."""
        with self.lock:
            self.faults.append(Fault(kind, count=count, **kw))

    def fail_randomly(self, probability: float, kind: str = "status", **kw) -> None:
        """Every request fails with `probability` (seeded: runs are repeatable)."""
        with self.lock:
            self.random_faults.append((probability, Fault(kind, count=10**9, **kw)))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.random_faults.clear()

    def settings(self, **overrides) -> str:
        """A [gateway] TOML table pointing at this server (the token comes from env)."""
        values = {"transport": "http", "url": self.url, "timeout_seconds": 2.0, "concurrency": 8}
        if self.token:
            values["token_env"] = "CLINICAST_TEST_GATEWAY_TOKEN"
        values.update(overrides)
        return "[gateway]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.01)
        return False

    def add_opt_out(self, item: dict | None = None, **fields) -> None:
        """Add an item to the opt-out feed (`{"token"|"app_id", "channel", "opted_out", "at"}`)."""
        item = dict(item or {}, **fields)
        item.setdefault("opted_out", True)
        item.setdefault("at", _rfc3339_now())
        with self.lock:
            self.opt_out_items.append(item)

    # --- reads ---------------------------------------------------------------------

    def calls(self, method: str | None = None, prefix: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method) and r.path.startswith(prefix)]

    def audience(self, broadcast_id: str) -> set[str]:
        with self.lock:
            b = self.broadcasts.get(broadcast_id)
            return set(b["audience"]) if b else set()

    # --- the contract ----------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.matches(method, path):
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                return f
        for p, f in self.random_faults:
            if f.matches(method, path) and self.rng.random() < p:
                return f
        return None

    def handle(
        self, method: str, path: str, headers, raw: bytes, peer: tuple | None = None
    ) -> tuple[int, dict, bytes] | Fault:
        """(status, headers, body) or a Fault to act out (drop / hang)."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        key = headers.get("Idempotency-Key")
        req = Request(method, path, {k.lower(): v for k, v in headers.items()}, body, key, peer=peer)
        with self.lock:
            self.count += 1
            if self.record:
                self.requests.append(req)
            fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "hold" and fault.then == "answer":
            req.fault = "hold"
            self.release.wait(timeout=300)  # the request is in flight until the test says
            fault = None
        with self.lock:
            if fault is not None and not fault.after:
                req.fault = fault.kind
                if fault.kind == "status":
                    req.status = fault.status
                    return self._fault_answer(fault)
                return fault
            answer = self._process(method, path, headers, body, key, req)
            req.status = answer[0]
            if fault is not None:  # after: the work is done, the answer lost or replaced
                req.fault = fault.kind + "-after"
                if fault.kind == "status":
                    return self._fault_answer(fault)
                return fault
            return answer

    @staticmethod
    def _fault_answer(f: Fault) -> tuple[int, dict, bytes]:
        hdrs = {}
        if f.retry_after is not None:
            hdrs["Retry-After"] = f.retry_after
        return f.status, hdrs, _error("injected", f.message)

    def _process(self, method, path, headers, body, key, req) -> tuple[int, dict, bytes]:
        if method == "POST" and path.startswith("/unsubscribe/"):
            # the unsubscribe page the app provider hosts: a mail client's RFC 8058 one-click
            # POST, no login; the click becomes an item of the opt-out feed
            token = path[len("/unsubscribe/") :]
            if not token:
                return 404, {}, _error("not_found", "no token")
            self.unsubscribe_clicks.append(token)
            self.opt_out_items.append({"token": token, "channel": "email", "opted_out": True, "at": _rfc3339_now()})
            return 200, {}, _json({"unsubscribed": True})
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, _error("unauthorized", "missing or wrong bearer token")
        if not (headers.get("User-Agent") or "").startswith("clinicast/"):
            return 400, {}, _error("bad_request", "User-Agent must be clinicast/<version>")
        if method == "GET" and path.startswith("/v1/opt-outs"):
            return self._opt_outs(path)
        if not key:
            return 400, {}, _error("bad_request", "Idempotency-Key header is required")
        if key in self.answers:
            self.replays += 1
            req.replay = True
            return self.answers[key]
        ids = body.get("app_ids") if isinstance(body, dict) else None
        if self.max_ids and isinstance(ids, list) and len(ids) > self.max_ids:
            return 413, {}, _error("payload_too_large", f"at most {self.max_ids} app ids a request")
        answer = self._route(method, path, body)
        if answer[0] < 500:
            self.answers[key] = answer
            if 200 <= answer[0] < 300:
                self.new_by_key[key] += 1
        return answer

    def _opt_outs(self, path: str) -> tuple[int, dict, bytes]:
        from urllib.parse import parse_qs, urlsplit

        q = parse_qs(urlsplit(path).query)
        try:
            limit = int(q.get("limit", ["500"])[0])
            after = q.get("after", [""])[0]
            start = int(after[2:]) if after else 0
        except ValueError:
            return 400, {}, _error("bad_request", "bad limit or cursor")
        if not 1 <= limit <= 500:
            return 400, {}, _error("bad_request", "limit must be 1 to 500")
        items = self.opt_out_items[start : start + limit]
        return 200, {}, _json({"items": items, "next": f"c-{start + len(items):06d}"})

    def _route(self, method, path, body) -> tuple[int, dict, bytes]:
        if method == "POST" and path == "/v1/push":
            if not isinstance(body, dict) or not body.get("app_id") or not isinstance(body.get("body"), str):
                return 400, {}, _error("bad_request", "app_id and body are required")
            if len(body["body"]) > 178:
                return 400, {}, _error("too_long", f"push body is {len(body['body'])} characters; at most 178")
            if body["app_id"] in self.unknown_app_ids:
                return 422, {}, _error("unknown_app_account", f"unknown app account {body['app_id']}")
            self.pushes.append(body)
            return 202, {}, _json({"accepted": True})
        m = _BROADCAST.match(path)
        if m and method == "PUT":
            if not isinstance(body, dict) or not {"title", "body_markdown", "starts_at", "ends_at"} <= set(body):
                return 400, {}, _error("bad_request", "title, body_markdown, starts_at and ends_at are required")
            b = self.broadcasts.get(m[1])
            created = b is None
            if created:
                b = self.broadcasts[m[1]] = {"audience": set(), "expired": False}
            b["content"] = body
            b["expired"] = False
            return (201 if created else 200), {}, _json({"id": m[1]})
        if m and method == "DELETE":
            b = self.broadcasts.get(m[1])
            if b is None or b["expired"]:
                return 404, {}, _error("not_found", "no such broadcast")
            b["expired"] = True
            b["audience"].clear()
            return 204, {}, b""
        m = _AUDIENCE.match(path)
        if m and method == "POST":
            b = self.broadcasts.get(m[1])
            if b is None:
                return 404, {}, _error("not_found", f"no broadcast {m[1]}: PUT it first")
            ids = body.get("app_ids") if isinstance(body, dict) else None
            if not isinstance(ids, list) or not ids:
                return 400, {}, _error("bad_request", "app_ids must be a non-empty list")
            if len(ids) > 500:
                return 400, {}, _error("too_many", f"{len(ids)} app ids; at most 500 per request")
            unknown = [i for i in ids if i in self.unknown_app_ids]
            known = [i for i in ids if i not in self.unknown_app_ids]
            b["audience"].update(known)
            out = {"added": len(known)}
            if unknown:
                out["unknown"] = unknown
            return 200, {}, _json(out)
        m = _PUSH.match(path)
        if m and method == "POST":
            if m[1] not in self.broadcasts:
                return 404, {}, _error("not_found", f"no broadcast {m[1]}: PUT it first")
            ids = body.get("app_ids") if isinstance(body, dict) else None
            if not isinstance(ids, list) or not ids or not isinstance(body.get("body"), str):
                return 400, {}, _error("bad_request", "app_ids (a non-empty list) and body are required")
            if len(ids) > 500:
                return 400, {}, _error("too_many", f"{len(ids)} app ids; at most 500 per request")
            if len(body["body"]) > 178:
                return 400, {}, _error("too_long", f"push body is {len(body['body'])} characters; at most 178")
            unknown = [i for i in ids if i in self.unknown_app_ids]
            sent = 0
            for i in ids:
                if i in self.unknown_app_ids:
                    continue
                if (m[1], i) in self.pushed:
                    self.push_repeats += 1  # one notification per broadcast and app id
                    continue
                self.pushed.add((m[1], i))
                self.pushes.append(
                    {"app_id": i, "title": body.get("title"), "body": body["body"], "data": {"broadcast_id": m[1]}}
                )
                sent += 1
            out = {"sent": sent}
            if unknown:
                out["unknown"] = unknown
            return 200, {}, _json(out)
        m = _MEMBER.match(path)
        if m and method == "DELETE":
            b = self.broadcasts.get(m[1])
            if b is None or m[2] not in b["audience"]:
                return 404, {}, _error("not_found", "not in the audience")
            b["audience"].discard(m[2])
            return 204, {}, b""
        return 404, {}, _error("not_found", f"no route {method} {path}")


def _rfc3339_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _json(data) -> bytes:
    return json.dumps(data).encode()


def _error(code: str, message: str) -> bytes:
    return _json({"error": {"code": code, "message": message}})


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, *a, **kw):
        self._socks: set[socket.socket] = set()
        self._socks_lock = threading.Lock()
        super().__init__(*a, **kw)

    def process_request(self, request, client_address):
        with self._socks_lock:
            self._socks.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._socks_lock:
            self._socks.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Close kept-alive client connections (their threads then end)."""
        with self._socks_lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _GatewayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall
    gateway: GatewayServer

    def log_message(self, format, *args):  # quiet
        pass

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the client went away mid-request: nothing to process
            self.close_connection = True
            return
        gw = self.gateway
        if gw.on_request is not None:
            gw.on_request(self.command, self.path)
        if gw.latency:
            time.sleep(gw.latency)
        result = gw.handle(self.command, self.path, self.headers, raw, self.client_address)
        if isinstance(result, Fault) and result.kind == "drip":
            body = b'{"ok": true, "padding": "' + b"x" * 64 + b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(result.seconds)
            except OSError:  # the client gave up: what the test wants
                pass
            self.close_connection = True
            return
        if isinstance(result, Fault):
            # "hang": the client times out before this wakes up; then, like "drop",
            # the connection closes without an answer
            if result.kind == "hang":
                time.sleep(result.seconds)
            elif result.kind == "hold":
                self.gateway.release.wait(timeout=300)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status, headers, body = result
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any


def http_date(seconds_from_now: float) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)


# =========================================================================================
# configs for delivery tests
# =========================================================================================


def delivery_config(
    db_url: str,
    tmp_path,
    *,
    smtp: SmtpServer | None = None,
    gateway: GatewayServer | None = None,
    email: dict | None = None,
    gw: dict | None = None,
    scheduler: dict | None = None,
    sending: dict | None = None,
    as_toml: bool = False,
):
    """A Config (or, with as_toml, the path of a TOML file) for delivery tests: the given
    loopback servers, else the local sinks under tmp_path; fast scheduler values; sending
    at any hour unless `sending` says otherwise."""
    import pwd

    from core import config as cfg

    login = pwd.getpwuid(os.geteuid()).pw_name
    e = {
        "transport": "maildir",
        "path": str(Path(tmp_path) / "maildir"),
        "from": "Clinique du Parc <no-reply@example.org>",
    }
    if smtp is not None:
        e = {
            "transport": "smtp",
            "host": smtp.host,
            "port": smtp.port,
            "security": smtp.security,
            "from": "Clinique du Parc <no-reply@example.org>",
            "timeout_seconds": 3.0,
            "concurrency": 2,
            "unsubscribe_url": "https://app.example.org/unsubscribe",
        }
        if smtp.auth:
            e["username"] = smtp.auth[0]
            e["password_env"] = "CLINICAST_TEST_SMTP_PASSWORD"
    e.update(email or {})
    g = {"transport": "log", "path": str(Path(tmp_path) / "gateway.log")}
    if gateway is not None:
        g = {"transport": "http", "url": gateway.url, "timeout_seconds": 1.0, "concurrency": 8}
        if gateway.token:
            g["token_env"] = "CLINICAST_TEST_GATEWAY_TOKEN"
    g.update(gw or {})
    s = {
        "embedded": "auto",
        "tick_seconds": 0.2,
        "lease_seconds": 6.0,
        "max_attempts": 4,
        "backoff_base_seconds": 1.0,
        "backoff_max_seconds": 4.0,
        "heartbeat_seconds": 0.5,
    }
    s.update(scheduler or {})
    data = {
        "clinic": {
            "name": "Clinique du Parc",
            "phone": "514-555-0100",
            "address": "1234 rue Saint-Denis",
            "app_url": "https://app.example.org/join",
            "timezone": "America/Toronto",
            "default_language": "fr",
        },
        "database": {"url": db_url},
        "email": e,
        "gateway": g,
        "scheduler": s,
        # any time: these tests send whenever the machine runs them (`sending=` to test the hours)
        "sending": sending or {"hours": "00:00-24:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "users": {
            login: {"name": "Test Admin", "permissions": ["campaigns", "admin"], "language": "en"}
        },  # the suite reads English
    }
    env = dict(os.environ)
    if gateway is not None and gateway.token:
        env["CLINICAST_TEST_GATEWAY_TOKEN"] = gateway.token
    if smtp is not None and smtp.auth:
        env["CLINICAST_TEST_SMTP_PASSWORD"] = smtp.auth[1]
    if as_toml:
        path = Path(tmp_path) / "clinicast.toml"
        path.write_text(_toml(data), encoding="utf-8")
        return path
    return cfg.from_dict(data, None, env)


def _toml(data: dict) -> str:
    out = []

    def table(prefix: str, d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        out.append(f"[{prefix}]")
        out.extend(f"{k} = {json.dumps(v)}" for k, v in scalars.items())
        out.append("")
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v)

    for k, v in data.items():
        table(k, v)
    return "\n".join(out)


# =========================================================================================
# as a process of its own
# =========================================================================================


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    p = argparse.ArgumentParser(description="loopback test servers for clinicast")
    p.add_argument("which", choices=["gateway", "smtp"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="test-token")
    p.add_argument("--security", default="none", choices=["none", "starttls", "tls"])
    p.add_argument("--no-record", action="store_true", help="keep no request log (long runs)")
    p.add_argument("--unknown", default="", help="comma-separated app ids the gateway does not know")
    p.add_argument("--forever", action="store_true", help="ignore stdin; serve until SIGTERM / Ctrl-C")
    p.add_argument("--greeting", default="", help="smtp: answer this instead of 220, then hang up")
    args = p.parse_args(argv)
    if args.which == "gateway":
        srv = GatewayServer(
            token=args.token or None,
            port=args.port,
            record=not args.no_record,
            unknown_app_ids=set(filter(None, args.unknown.split(","))),
        )
    else:
        srv = SmtpServer(security=args.security, port=args.port)
        srv.greeting = args.greeting
    srv.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    print(f"READY {srv.port}", flush=True)
    if args.forever and isinstance(srv, GatewayServer):

        def report():  # a line per 5 s with traffic, for watching by hand
            last = -1
            while not stop.wait(5):
                with srv.lock:
                    now = (srv.count, len(srv.pushes), srv.replays)
                if now[0] != last:
                    print(f"requests={now[0]} pushes={now[1]} replays={now[2]}", flush=True)
                    last = now[0]

        threading.Thread(target=report, daemon=True).start()

    def watch_stdin():
        try:
            for line in sys.stdin:
                cmd = line.strip()
                if cmd == "stats":
                    if isinstance(srv, GatewayServer):
                        with srv.lock:
                            print(
                                json.dumps(
                                    {
                                        "count": srv.count,
                                        "pushes": len(srv.pushes),
                                        "replays": srv.replays,
                                        "dup_keys": sum(1 for v in srv.new_by_key.values() if v > 1),
                                    }
                                ),
                                flush=True,
                            )
                    else:
                        print(json.dumps({"messages": len(srv.messages), "connections": srv.connections}), flush=True)
                elif cmd == "reset" and isinstance(srv, SmtpServer):
                    with srv.lock:
                        srv.messages.clear()
                    print("{}", flush=True)
        except (OSError, ValueError):
            pass
        stop.set()

    if not args.forever:
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""DKIM signing by clinicast (`[email] dkim_key_file`, `dkim_selector`, `dkim_domain`),
for a clinic whose relay does not sign (most relays do: see the README).

The signature covers the headers a receiver and a one-click unsubscribe rely on —
From, To, Subject, Date, Message-ID, the MIME headers, and `List-Unsubscribe` with
`List-Unsubscribe-Post` (RFC 8058 asks that both be signed) — with relaxed
canonicalisation, so a relay that refolds a header does not break it. The private key
is read by the process that sends, when it signs its first email (never at config load,
so staff who cannot read it can still work), and re-read after it could not be used; its
file is a secret like the SMTP password's (core.config.secrets).
Signing is dkimpy's (`pip install 'clinicast[dkim]'`).
"""

from __future__ import annotations

from core.config import secrets
from core.reasons import Detail

SIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-language",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


class DkimSigner:
    def __init__(self, key: secrets.SecretRef, selector: str, domain: str):
        self.key, self.selector, self.domain = key, selector, domain
        self._key: bytes | None = None

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header first. SecretError (one line) when
        the key cannot be read or used: the email channel pauses until it is fixed. The
        file is checked as any secret's (core.config.secrets: missing, empty, open to
        others), and core.channel_health looks at it before each pass too."""
        try:
            import dkim
        except ImportError:
            raise secrets.failure(Detail.DKIM_NEEDS_DKIMPY) from None
        if self._key is None:
            self._key = secrets.key_bytes(self.key)
        try:
            signature = dkim.sign(
                message,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self._key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=list(SIGNED),
            )
        except (dkim.DKIMException, ValueError, IndexError) as e:
            self._key = None  # read again at the next try: the administrator may fix it
            raise secrets.failure(Detail.DKIM_CANNOT_SIGN, path=self.key.file, error=e) from None
        return signature + message


def from_settings(email) -> DkimSigner | None:
    if email.dkim_key_secret is None:
        return None
    return DkimSigner(email.dkim_key_secret, email.dkim_selector, email.dkim_domain)

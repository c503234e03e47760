"""DKIM signing by clinicast (`[email] dkim_key_file`, `dkim_selector`, `dkim_domain`),
for a clinic whose relay does not sign (most relays do: see the README).

The signature covers the headers a receiver and a one-click unsubscribe rely on —
From, To, Subject, Date, Message-ID, the MIME headers, and `List-Unsubscribe` with
`List-Unsubscribe-Post` (RFC 8058 asks that both be signed) — with relaxed
canonicalisation, so a relay that refolds a header does not break it. The private key
is read by the process that sends, when it signs its first email (never at config load,
so staff who cannot read it can still work), and re-read after it could not be used.
Signing is dkimpy's (`pip install 'clinicast[dkim]'`).
"""

from __future__ import annotations

from core import infile
from core.errors import BadInput, ConfigError

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
KEY_LIMIT = 64 * 1024


class DkimSigner:
    def __init__(self, key_file: str, selector: str, domain: str):
        self.key_file, self.selector, self.domain = key_file, selector, domain
        self._key: bytes | None = None

    def _read_key(self) -> bytes:
        import os
        import stat

        try:
            if os.stat(self.key_file).st_mode & (stat.S_IROTH | stat.S_IWOTH):
                raise ConfigError(None, [f"email.dkim_key_file: {self.key_file} is readable or writable by others"])
            return infile.read_bytes(self.key_file, limit=KEY_LIMIT, what="a PEM private key")
        except BadInput as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(None, [f"email.dkim_key_file: {e}"]) from None
        except OSError as e:
            raise ConfigError(None, [f"email.dkim_key_file: cannot read {self.key_file}: {e.strerror}"]) from None

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header first. ConfigError (one line) when
        the key cannot be read or used: the email channel pauses until it is fixed."""
        try:
            import dkim
        except ImportError:
            raise ConfigError(
                None, ["email.dkim_key_file: DKIM signing needs dkimpy: pip install 'clinicast[dkim]'"]
            ) from None
        if self._key is None:
            self._key = self._read_key()
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
            raise ConfigError(None, [f"email.dkim_key_file: cannot sign with {self.key_file}: {e}"]) from None
        return signature + message


def from_settings(email) -> DkimSigner | None:
    if not email.dkim_key_file:
        return None
    return DkimSigner(email.dkim_key_file, email.dkim_selector, email.dkim_domain)

"""The loaded config's types (SPEC §8): one frozen dataclass per TOML section, and `Config`.

`core.config` builds them from the validated values; everything else reads them. The
secrets stay `SecretRef`s until a transport is built (core.config.secrets, SPEC §13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from core.config import secrets


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    phone: str = ""
    address: str = ""
    app_url: str = "https://app.example.org/join"
    timezone: str = "America/Toronto"
    default_language: str = "fr"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    group: str = ""  # the OS group that shares a SQLite database folder (SPEC §13)
    keep_deliveries_days: int = 90  # finished outbox rows older than this are deleted (core.delivery.retention)


@dataclass(frozen=True)
class EmailSettings:
    transport: str = "smtp"
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_secret: secrets.SecretRef | None = None  # read when the SMTP transport is built
    sender: str = "clinicast <no-reply@localhost>"
    unsubscribe_url: str = ""  # each email's personal link is <unsubscribe_url>/<token> (SPEC §10)
    path: str = ""
    timeout_seconds: float = 30  # the overall deadline of one SMTP transaction
    concurrency: int = 2
    unknown_outcome_retries: int = 1  # an email whose outcome is unknown is sent again at most this often
    max_per_minute: int = 0  # the relay's pace: emails in any 60 s, all dispatchers together (0: none)
    max_per_day: int = 0  # and in any 24 hours (0: none)
    # DKIM signing by clinicast, for a relay that does not sign (core.channels.dkim); the
    # key is read only by the process that sends, as a secret (core.config.secrets)
    dkim_key_file: str = ""
    dkim_key_secret: secrets.SecretRef | None = None
    dkim_selector: str = ""
    dkim_domain: str = ""
    ca_file: str = ""  # the CA (PEM) the relay's certificate is checked against ("": the system's)

    @property
    def password(self) -> str | None:
        """Read now, by whoever builds the transport (core.config.secrets); raises ConfigError."""
        return secrets.resolve(self.password_secret)


@dataclass(frozen=True)
class GatewaySettings:
    transport: str = "http"
    url: str = ""
    token_secret: secrets.SecretRef | None = None  # read when the HTTP transport is built
    timeout_seconds: float = 10
    concurrency: int = 16
    ca_file: str = ""  # the CA (PEM) the gateway's certificate is checked against ("": the system's)
    path: str = ""

    @property
    def token(self) -> str | None:
        """Read now, by whoever builds the transport (core.config.secrets); raises ConfigError."""
        return secrets.resolve(self.token_secret)


@dataclass(frozen=True)
class SchedulerSettings:
    embedded: str = "auto"
    tick_seconds: float = 5
    lease_seconds: float = 60
    max_attempts: int = 8
    backoff_base_seconds: float = 30
    backoff_max_seconds: float = 3600
    heartbeat_seconds: float = 15


@dataclass(frozen=True)
class SendingSettings:
    """When emails and pushes may leave (SPEC §11), as written; core.sending_hours reads them."""

    hours: str = "09:00-20:00"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class ExportsSettings:
    """The CSVs clinicast writes for people (core.spreadsheet)."""

    csv_separator: str = ","  # ";" for Excel on a French (Canada) Windows, where "," is the decimal mark


@dataclass(frozen=True)
class User:
    login: str
    name: str
    permissions: frozenset[str]
    language: str = ""  # the TUI's and messages' language; "" = [clinic] default_language
    email: str = ""  # where this staff member's test sends go
    app_id: str = ""  # their own app account, for broadcast test sends


@dataclass(frozen=True)
class Config:
    path: Path | None
    clinic: ClinicSettings
    database: DatabaseSettings
    email: EmailSettings
    gateway: GatewaySettings
    scheduler: SchedulerSettings
    sending: SendingSettings = field(default_factory=SendingSettings)
    exports: ExportsSettings = field(default_factory=ExportsSettings)
    users: dict[str, User] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # [keys]: TUI binding id -> keys (tui.keys)

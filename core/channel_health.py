"""The channels' health (SPEC §5): a refusal of the clinic's setup pauses a channel, not
the patients.

A channel is "email" (the SMTP relay) or "gateway" (the patient app). When its server
refuses what the clinic configured — the gateway our token (401/403) or our URL (a
redirect), the SMTP server our login (535) or our sender, a TLS certificate that does
not verify, a secret or the DKIM key this process cannot read — or a relay asks us to
slow down (421/451/452, a 4xx greeting) or says its sending limit is reached (X.4.5),
the transport answers `Outcome.pause(problem, …)` (core.channels). Then:

- the delivery goes back to `pending` until the channel is tried again, the hand-over
  not counted as an attempt (core.delivery.retry), so no patient fails for it;
- the channel's row here says what is wrong, since when, and until when deliveries
  wait (`until`): every dispatcher's claim skips the channel until then (the database
  is the one place all dispatchers, on all hosts, read), then tries it again, reading
  the secret afresh; the first success deletes the row: the channel resumed by itself;
- the daemon's log, `clinicast status` and the TUI's status line say it in words with
  the fix (`describe`): "the gateway refuses our token since 14:02: check
  /etc/clinicast/gateway.token". The row's detail is stored in English whatever the
  language of the process that wrote it (core.reasons.Detail, as `--json` shows it) and
  said in the reader's: a French staff member reads a pause an English daemon wrote in
  French. A detail an older version wrote in its own words is shown as it is.

A secret is also looked at before each dispatcher pass (`look_at_secrets`): a daemon
started while the token file is missing sends email and holds the pushes, and the
pushes go as soon as the file is written, with no restart and no send tried meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.channels.base import (
    GATEWAY_TLS,
    GATEWAY_TOKEN,
    GATEWAY_URL,
    SECRET,
    SLOW_DOWN,
    SMTP_LIMIT,
    SMTP_LOGIN,
    SMTP_NO_AUTH,
    SMTP_SECURITY,
    SMTP_SENDER,
    SMTP_TLS,
)
from core.i18n import _, pgettext
from core.models import ChannelHealth, database
from core.reasons import said

EMAIL, GATEWAY = "email", "gateway"
CHANNELS = (EMAIL, GATEWAY)
PROBE_SECONDS = 60.0  # a paused channel is tried again this often (its secret read again)
DEFAULT_SLOW_DOWN = 60.0


def channel_of(kind) -> str:
    """The channel a delivery kind goes by (core.enums.DeliveryKind)."""
    return EMAIL if kind.by_email else GATEWAY


def pause_seconds(problem: str, retry_after: float | None) -> float:
    """How long a channel waits: the time a relay asked for, else until the next try."""
    if retry_after is not None and retry_after > 0:
        return float(retry_after)
    return DEFAULT_SLOW_DOWN if problem == SLOW_DOWN else PROBE_SECONDS


@dataclass(frozen=True)
class Problem:
    channel: str
    problem: str  # core.channels.base.PROBLEMS
    detail: str  # the server's words
    since: datetime  # naive UTC
    until: datetime  # naive UTC: deliveries wait until then

    def as_dict(self, config=None, now: datetime | None = None) -> dict:
        out = {
            "channel": self.channel,
            "problem": self.problem,
            "detail": self.detail,
            "since": self.since.isoformat(timespec="seconds") + "Z",
            "until": self.until.isoformat(timespec="seconds") + "Z",
        }
        if config is not None:
            out["message"] = describe(self, config, now)
        return out


def _row(h: ChannelHealth) -> Problem:
    return Problem(h.channel, h.problem, h.detail, h.since, h.until)


def problems() -> list[Problem]:
    """Every channel with a problem not yet cleared by a success (none when all work)."""
    return [_row(h) for h in ChannelHealth.select().order_by(ChannelHealth.channel)]


def paused(now: datetime) -> set[str]:
    """The channels whose deliveries wait now (the claim skips them)."""
    return {c for (c,) in ChannelHealth.select(ChannelHealth.channel).where(ChannelHealth.until > now).tuples()}


@dataclass(frozen=True)
class Change:
    """What `note` changed, for the log: a channel paused (new or another problem), still
    paused, or resumed."""

    what: str  # "paused", "still_paused", "resumed"
    problem: Problem


def note(pauses: Iterable[tuple[str, str, str, datetime]], succeeded: Iterable[str], now: datetime, by: str):
    """Record what one batch of answers says about the channels, in the caller's
    transaction: `pauses` (channel, problem, detail, until) and the channels that
    `succeeded`. A success clears its channel once its pause is over (a send already in
    flight when another was refused proves nothing); a pause keeps the first `since`
    while the problem stays the same. Returns the Changes."""
    changes: list[Change] = []
    latest: dict[str, tuple[str, str, datetime]] = {}
    for channel, problem, detail, until in pauses:
        old = latest.get(channel)
        if old is None or until > old[2]:
            latest[channel] = (problem, detail, until)
    for channel in set(succeeded) - set(latest):
        row = ChannelHealth.get_or_none(ChannelHealth.channel == channel)
        gone = ChannelHealth.delete().where(ChannelHealth.channel == channel, ChannelHealth.until <= now)
        if row is not None and gone.execute():
            changes.append(Change("resumed", _row(row)))
    for channel, (problem, detail, until) in latest.items():
        row = ChannelHealth.get_or_none(ChannelHealth.channel == channel)
        since = row.since if row is not None and row.problem == problem else now
        values = {
            ChannelHealth.problem: problem,
            ChannelHealth.detail: detail,
            ChannelHealth.since: since,
            ChannelHealth.until: until,
            ChannelHealth.noted_at: now,
            ChannelHealth.noted_by: by[:120],
        }
        if row is None:
            ChannelHealth.insert({ChannelHealth.channel: channel, **values}).on_conflict(
                conflict_target=[ChannelHealth.channel], update=values
            ).execute()
        else:
            if until < row.until:  # another dispatcher already paused it for longer
                values[ChannelHealth.until] = row.until
                until = row.until
            ChannelHealth.update(values).where(ChannelHealth.channel == channel).execute()
        p = Problem(channel, problem, detail, since, until)
        changes.append(Change("still_paused" if row is not None and row.problem == problem else "paused", p))
    return changes


def look_at_secrets(config, now: datetime, by: str) -> list[Change]:
    """The secrets this process sends with, read again (SPEC §5, §13): a channel whose
    secret it cannot use is paused (SECRET) until after the next look, its deliveries
    left unclaimed; a pause about a channel's secret file or variable (`[gateway]
    token_*`, `[email] password_*`, `dkim_key_file`: core.config.secrets.SETTINGS) ends as
    soon as the channel has none it cannot use — it can be read again, or the config no
    longer names it. A pause about anything else (a DKIM key that does not sign, a
    refused token) waits for a success, as `note` says. The detail kept is the secret's
    `stored` words (English, said in each reader's language by `describe`), which begin
    with the setting. Returns the Changes ("still_paused" left out: the pause was said
    when it began)."""
    from core.config.secrets import SETTINGS, needed, problem

    unusable: dict[str, str] = {}
    for _words, ref in needed(config):
        e = problem(ref, config)  # a file the service account may not read: said with the fix
        if e is not None:  # "email.password": the email channel's; its first problem said
            unusable.setdefault(ref.key.partition(".")[0], e.stored)
    changes: list[Change] = []
    with database.atomic():
        rows = {h.channel: h for h in ChannelHealth.select().where(ChannelHealth.problem == SECRET)}
        for channel, row in rows.items():
            about = tuple(f"{key}:" for key in SETTINGS.get(channel, ()))
            if channel in unusable or not about or not row.detail.startswith(about):
                continue
            gone = ChannelHealth.delete().where(ChannelHealth.channel == channel, ChannelHealth.problem == SECRET)
            if gone.execute():
                changes.append(Change("resumed", _row(row)))
        held = timedelta(seconds=PROBE_SECONDS)
        pauses = []
        for channel, detail in unusable.items():
            row = rows.get(channel)
            if row is not None and row.detail == detail and row.until - now > held / 2:
                continue  # said, and held long enough: no write at every look
            pauses.append((channel, SECRET, detail, now + held))
        if pauses:
            changes += [c for c in note(pauses, [], now, by) if c.what != "still_paused"]
    return changes


def clear(channel: str) -> bool:
    """Forget a channel's problem (a success, or an administrator who fixed it and wants
    it tried at once)."""
    with database.atomic():
        return bool(ChannelHealth.delete().where(ChannelHealth.channel == channel).execute())


# --- words ---------------------------------------------------------------------------


def local_time(moment: datetime, config, now: datetime | None = None) -> str:
    """A naive UTC moment as staff read it (core.formats, their language): HH:MM in the
    clinic's zone, with the date when it is not today."""
    from core import formats

    tz = config.clinic.tz
    local = moment.replace(tzinfo=UTC).astimezone(tz)
    today = (now or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC).astimezone(tz).date()
    return formats.time(moment, tz) if local.date() == today else formats.when(moment, tz)


def channel_word(channel: str) -> str:
    """A channel as staff name it, in their language."""
    words = {EMAIL: pgettext("channel", "email"), GATEWAY: pgettext("channel", "gateway")}
    return words.get(channel, channel)


def _secret_where(config, channel: str) -> str:
    ref = config.gateway.token_secret if channel == GATEWAY else config.email.password_secret
    if ref is None:
        return "gateway.token_file" if channel == GATEWAY else "email.password_file"
    return ref.where


def describe(p: Problem, config, now: datetime | None = None) -> str:
    """One line for staff: what is wrong, since when, and what to fix."""
    from core import formats

    since, until = local_time(p.since, config, now), local_time(p.until, config, now)
    where = _secret_where(config, p.channel)
    ca_file = config.gateway.ca_file if p.channel == GATEWAY else config.email.ca_file
    words = {
        GATEWAY_TOKEN: _("the gateway refuses our token since {since}: check {where}"),
        GATEWAY_URL: _("the gateway redirects us elsewhere since {since}: check [gateway] url ({url})"),
        GATEWAY_TLS: _(
            "the gateway's TLS certificate does not verify since {since}: check [gateway] url ({url})"
            " and the CA file {ca_file}"
        )
        if ca_file
        else _(
            "the gateway's TLS certificate does not verify since {since}: check [gateway] url ({url}),"
            " or set [gateway] ca_file to the CA that signed it"
        ),
        SMTP_LOGIN: _("the SMTP server refuses our login since {since}: check [email] username and {where}"),
        SMTP_NO_AUTH: _("the SMTP server offers us no login since {since}: {detail}"),
        SMTP_SECURITY: _("the SMTP server does not answer as [email] security says since {since}: {detail}"),
        SMTP_SENDER: _(
            "the SMTP server refuses mail from us since {since} ({detail}): check [email] from, username and security"
        ),
        SMTP_TLS: _(
            "the SMTP server's TLS does not verify since {since}: check [email] host, port, security"
            " and the CA file {ca_file} ({detail})"
        )
        if ca_file
        else _(
            "the SMTP server's TLS does not verify since {since}: check [email] host, port and security,"
            " or set [email] ca_file to the CA that signed it ({detail})"
        ),
        SECRET: _("cannot read the secret to send since {since}: {detail}"),
        SLOW_DOWN: _("the SMTP relay asks us to slow down since {since} ({detail}): emails wait until {until}"),
        SMTP_LIMIT: _(
            "the SMTP relay's sending limit (often a daily one) is reached since {since} ({detail}): emails wait"
            " until {until}; set [email] max_per_day under it"
        )
        if not config.email.max_per_day
        else _(
            "the SMTP relay's sending limit (often a daily one) is reached since {since} ({detail}): emails wait"
            " until {until}; set [email] max_per_day (now {max_per_day}) under it"
        ),
    }.get(p.problem, _("the {channel} channel is paused since {since}: {detail}"))
    return words.format(
        since=since,
        until=until,
        where=where,
        url=config.gateway.url,
        sender=config.email.sender,
        detail=said(p.detail),
        channel=channel_word(p.channel),
        ca_file=ca_file,
        max_per_day=formats.number(config.email.max_per_day),
    )


def lines(config, now: datetime | None = None) -> list[str]:
    """One line per channel with a problem, for `clinicast status` and the TUI."""
    return [
        _("{channel} paused: {problem}").format(channel=channel_word(p.channel), problem=describe(p, config, now))
        for p in problems()
    ]


__all__ = [
    "CHANNELS",
    "EMAIL",
    "GATEWAY",
    "PROBE_SECONDS",
    "Change",
    "Problem",
    "channel_of",
    "channel_word",
    "clear",
    "describe",
    "lines",
    "look_at_secrets",
    "note",
    "pause_seconds",
    "paused",
    "problems",
]

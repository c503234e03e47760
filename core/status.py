"""`clinicast status`: schema version, counts, live dispatchers, deliveries due/retrying/failed."""

from __future__ import annotations

from datetime import datetime, timedelta

import peewee as pw

from core import __version__, channel_health, dbfiles
from core.context import Ctx
from core.enums import DeliveryState, RecipientStatus, Role
from core.i18n import _, ngettext
from core.models import Campaign, Delivery, Heartbeat, Patient, Recipient
from core.reasons import Reason


def _iso(d: datetime | None) -> str | None:
    return d.isoformat(timespec="seconds") + "Z" if d else None


def overview(ctx: Ctx) -> dict:
    """Everything `clinicast status --json` prints (SPEC §7's words)."""
    from core import db

    now = ctx.now()
    hb = ctx.config.scheduler.heartbeat_seconds
    fresh = now - timedelta(seconds=3 * hb)
    live = list(Heartbeat.select().where(Heartbeat.beat_at >= fresh).order_by(Heartbeat.role, Heartbeat.name))
    stale = Heartbeat.select().where(Heartbeat.beat_at < fresh).count()

    # each campaign's counts (core.tally, kept by the database) give both the recipients'
    # totals and each campaign's status: no recipient row is read, and the campaign list
    # is not rebuilt (it was, funnels and all)
    from core import tally

    recipients: dict[str, int] = dict.fromkeys(tuple(RecipientStatus), 0)
    per_campaign = tally.counts()
    for counts in per_campaign.values():
        for status, n in counts.items():
            recipients[status] = recipients.get(status, 0) + n

    # emails that may have arrived twice (a first copy's answer never came): the partial
    # index of recipients with a first copy holds only them
    twice = (
        Recipient.select()
        .where(Recipient.first_copy_at.is_null(False), Recipient.reason_code == Reason.MAYBE_TWICE)
        .count()
    )

    open_ = Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING))
    due = Delivery.select().where(open_, Delivery.due_at <= now).count()
    scheduled = Delivery.select().where(open_, Delivery.due_at > now)
    next_due = scheduled.select(pw.fn.MIN(Delivery.due_at)).scalar()
    if isinstance(next_due, str):  # SQLite aggregate: no column type to convert by
        next_due = datetime.fromisoformat(next_due)
    # the outbox by status: every state but `sent` from the (status, due_at) index, `sent`
    # as the rest of the total (a history's sent rows are never read one by one)
    outbox = tally.rows(Delivery)
    others = [s for s in DeliveryState if s != DeliveryState.SENT]
    by_status = dict(
        Delivery.select(Delivery.status, tally.COUNT_ALL)
        .where(Delivery.status.in_(others))
        .group_by(Delivery.status)
        .tuples()
    )
    if outbox > sum(by_status.values()):
        by_status[DeliveryState.SENT.value] = outbox - sum(by_status.values())
    oldest_due = Delivery.select(pw.fn.MIN(Delivery.due_at)).where(open_, Delivery.due_at <= now).scalar()
    if isinstance(oldest_due, str):
        oldest_due = datetime.fromisoformat(oldest_due)

    from core.campaigns import statuses_of

    by: dict[str, int] = {}
    camps = list(Campaign.select(Campaign.id, Campaign.kind, Campaign.first_started_at, Campaign.archived))
    for s in statuses_of(camps, per_campaign).values():
        by[s] = by.get(s, 0) + 1
    archived = sum(bool(c.archived) for c in camps)
    campaigns = {"total": sum(by.values()), "archived": archived, "by_status": by}

    return {
        "version": __version__,
        "schema_version": db.schema_version(),
        "database": "postgresql" if db.is_postgres() else "sqlite",
        "now": _iso(now),
        "patients": tally.rows(Patient),
        "campaigns": campaigns,
        "recipients": recipients,
        "recipients_maybe_delivered_twice": twice,
        "deliveries": {
            "due": due,
            "scheduled": scheduled.count(),
            "next_due_at": _iso(next_due),
            "oldest_due_at": _iso(oldest_due),
            "sending": by_status.get(DeliveryState.SENDING, 0),
            "retrying": by_status.get(DeliveryState.RETRYING, 0),
            "failed": by_status.get(DeliveryState.FAILED, 0),
            "by_status": by_status,
            "outbox": outbox,  # rows kept (finished ones for keep_days)
            "keep_days": ctx.config.database.keep_deliveries_days,
        },
        # a channel paused by a refusal of the clinic's setup, or a relay's pace (SPEC §5)
        "channels": [p.as_dict(ctx.config, now) for p in channel_health.problems()],
        "daemons": [_hb(h) for h in live if h.role == Role.DAEMON],
        "dispatchers": [_hb(h) for h in live],
        "stale_heartbeats": stale,
        "open_to_others": [f.to_json() for f in dbfiles.open_to_others(ctx.config)],
    }


def _hb(h: Heartbeat) -> dict:
    return {
        "name": h.name,
        "host": h.host,
        "pid": h.pid,
        "role": h.role,
        "os_user": h.os_user,
        "version": h.version,
        "started_at": _iso(h.started_at),
        "beat_at": _iso(h.beat_at),
    }


def _moment(iso: str | None, tz) -> str:
    """A time of `overview` ("...Z", UTC) as people read it, in the clinic's zone."""
    if not iso:
        return ""
    from core import formats

    return formats.when(datetime.fromisoformat(iso.removesuffix("Z")), tz, seconds=True)


def format_overview(data: dict, tz, pace: str = "") -> str:
    """The human version of `overview` (a few aligned lines), in the language in use; its
    times in the clinic's zone `tz` (a ZoneInfo: required, a person never reads UTC).
    `pace`: the relay's pace beside the email channel (core.pace.channel_words), why
    emails wait that are due — words only, `--json` keeps the overview's shape."""
    from core.formats import number as num
    from core.words import word

    d = data["deliveries"]
    r = {k: v for k, v in data["recipients"].items() if v}
    n = data.get("recipients_maybe_delivered_twice", 0)
    twice = (
        " ("
        + ngettext("{n} may have been delivered twice", "{n} may have been delivered twice", n).format(n=num(n))
        + ")"
        if n
        else ""
    )
    by_status = data["campaigns"].get("by_status") or {}
    campaigns = num(data["campaigns"]["total"])
    if by_status:
        campaigns += " (" + ", ".join(f"{word('campaign', s)} {num(n)}" for s, n in sorted(by_status.items())) + ")"
    recipients = ", ".join(f"{word('recipient', s)} {num(n)}" for s, n in r.items()) if r else _("none")
    # agreed with its count: French writes « 0 prévu », « 2 prévus »
    deliveries = ngettext(
        "{due} due now, {scheduled} scheduled", "{due} due now, {scheduled} scheduled", d["scheduled"]
    ).format(due=num(d["due"]), scheduled=num(d["scheduled"]))
    if d["next_due_at"]:
        deliveries += " (" + _("next due {when}").format(when=_moment(d["next_due_at"], tz)) + ")"
    deliveries += ", " + _("{sending} sending, {retrying} retrying, {failed} failed").format(
        sending=num(d["sending"]), retrying=num(d["retrying"]), failed=num(d["failed"])
    )
    rows: list[tuple[str, str]] = [
        (_("patients"), num(data["patients"])),
        (_("campaigns"), campaigns),
        (_("recipients"), recipients + twice),
        (_("deliveries"), deliveries),
    ]
    if d["due"] and d["oldest_due_at"]:
        rows.append(("", _("oldest due since {when}").format(when=_moment(d["oldest_due_at"], tz))))
    rows.append(
        (
            _("outbox"),
            ngettext(
                "{n} row (finished ones kept {days} days)", "{n} rows (finished ones kept {days} days)", d["outbox"]
            ).format(n=num(d["outbox"]), days=num(d["keep_days"])),
        )
    )
    for ch in data.get("channels", []):  # "email" or "gateway": the channels' own words
        label = channel_health.channel_word(ch["channel"])
        rows.append((label, _("paused: {message}").format(message=ch.get("message") or ch["detail"])))
    if pace:
        rows.append((channel_health.channel_word(channel_health.EMAIL), pace))
    daemons = data["daemons"]
    for h in daemons:
        if h.get("os_user"):
            said = _("{name} as {os_user} (version {version}), last beat {when}")
        else:
            said = _("{name} (version {version}), last beat {when}")
        rows.append(
            (
                _("daemon"),
                said.format(
                    name=h["name"], os_user=h.get("os_user"), version=h["version"], when=_moment(h["beat_at"], tz)
                ),
            )
        )
    if not daemons:
        rows.append((_("daemon"), _("none running — deliveries are waiting") if d["due"] else _("none running")))
    for h in data["dispatchers"]:
        if h["role"] != Role.DAEMON:
            rows.append(
                (
                    _("TUI") if h["role"] == Role.TUI else str(h["role"]),
                    _("{name}, last beat {when}").format(name=h["name"], when=_moment(h["beat_at"], tz)),
                )
            )
    width = max(12, *(len(label) + 1 for label, _text in rows))
    lines = [
        _("clinicast {version} — database {database}, schema version {schema}").format(
            version=data["version"], database=data["database"], schema=data["schema_version"]
        )
    ]
    lines += [f"{label:<{width}} {text}" if label else f"{'':<{width}} {text}" for label, text in rows]
    for f in data.get("open_to_others", []):
        lines.append(
            _("warning: {line}").format(
                line=dbfiles.OpenToOthers(f["path"], int(f["mode"], 8), f["fix"], f["files"]).words()
            )
        )
    return "\n".join(lines)


def sending_line(config, now: datetime, embedded=None, wanted: bool | None = None, *, short: bool = False) -> str:
    """Who sends this clinic's deliveries, in the words the TUI's status line shows
    (SPEC §13): a live daemon, this session's embedded scheduler, or nobody and why.

    `embedded` is this session's EmbeddedScheduler (None when it did not start);
    `wanted` False means this session was told never to send (tests, snapshots).
    `short`: the same truth in fewer words where there are some (who sends), for a
    status line at 80 columns (issue #18); what is wrong is never shortened."""
    from core.config.secrets import unusable
    from core.scheduling.heartbeat import embedded_sends, live_daemons

    paused = channel_health.lines(config, now)
    if paused:  # what staff must fix comes first: the line is cut at the screen's edge
        return " · ".join(paused)
    daemons = live_daemons(config, now)
    if daemons:
        host = daemons[0].host or daemons[0].name.partition(":")[0]
        if short:
            return _("sending: daemon on {host}").format(host=host)
        return _("deliveries: sent by the daemon on {host}").format(host=host)
    if embedded_sends(embedded):
        state = embedded.state_words()
        if short:  # "running" goes without saying: a scheduler that sends runs
            plain = state == embedded.running_words()
            return _("sending: this session") if plain else _("sending: this session ({state})").format(state=state)
        return _("deliveries: sent by this session (embedded, {state})").format(state=state)
    if wanted is False:
        return _("nothing is sending: the daemon is not running (this session does not send)")
    blocked = [lack.words for lack in unusable(config) if not lack.everyone]  # as EmbeddedScheduler.start
    if blocked:
        return _("nothing is sending: the daemon is not running and you cannot read {secrets}").format(
            secrets=_(" or ").join(blocked)
        )
    if config.scheduler.embedded == "never":
        return _('nothing is sending: the daemon is not running ([scheduler] embedded = "never")')
    return _("nothing is sending: the daemon is not running, deliveries wait")


def readable_report(config, *, made: bool = True, usable: bool = True) -> tuple[list[str], bool, bool]:
    """What `config check` says about secrets for the user running it: what they can and
    cannot read and what follows (one line each), in the future tense while the database
    is not `made` (before `init` nothing sends); never that anyone can send when the
    database is made but this user could not use it (`usable` False: a role the server
    has not, a refused password, a server that does not answer — root's check on
    PostgreSQL said "so root can send" beside "no role root"); `can_send` False when it stops sending
    for good (the service account cannot read them: said by its own check, and by root's
    or a staff member's from each file's owner, group and mode); `broken` True when a
    secret is one no account can send with as it is (a file missing, empty, open to
    others: SPEC §5, that channel waits until it is fixed)."""
    from core.config.secrets import denied_to_service, needed, problem, service_account
    from core.context import is_service_account, login_name

    login = login_name()
    wanted = needed(config)
    service = service_account(config) if any(ref.file for _w, ref in wanted) else None
    lines, missing, broken, service_lacks = [], [], [], []
    for words, ref in wanted:
        e = problem(ref, config)
        if e is None:
            lines.append(
                _("{secret} ({where}): {login} can read it").format(secret=words, where=ref.where, login=login)
            )
        elif e.everyone:
            lines.append(_("{secret}: no account can send with it: {why}").format(secret=words, why=e.problems[0]))
            broken.append((words, ref.key.partition(".")[0]))
            continue
        else:
            lines.append(
                _("{secret}: {login} cannot use it: {why}").format(secret=words, login=login, why=e.problems[0])
            )
            missing.append(words)
        lack = denied_to_service(service, ref)  # root or a staff member: can the daemon?
        if lack is not None:
            lines.append(_("{secret}: {why}").format(secret=words, why=lack.problems[0]))
            service_lacks.append(words)
    # what the account that runs the daemon cannot read: then nothing sends, whoever asks
    if service_lacks and service is not None:
        daemon, unread = service.login, service_lacks
    elif missing and is_service_account(config):
        daemon, unread = login, missing
    else:
        daemon, unread = "", []
    can_send = not unread
    if unread:
        lines.append(
            _("so nothing can be sent: {login} runs the daemon and must be able to read {secrets}").format(
                login=daemon, secrets=_(" and ").join(unread)
            )
        )
    elif missing:
        lines.append(_the_daemon_sends(login, made=made, usable=usable))
    elif not broken:  # a broken secret says what waits in its own line below
        lines.append(_this_login_sends(login, made=made, usable=usable))
    for words, channel in broken:
        lines.append(
            _("so nothing goes out by {channel} until {secret} is fixed: its deliveries wait, none fails").format(
                channel=channel_health.channel_word(channel), secret=words
            )
        )
    return lines, can_send, bool(broken)


def _this_login_sends(login: str, *, made: bool, usable: bool) -> str:
    """readable_report's last word when `login` reads every secret: they send, or will."""
    if not made:
        return _(
            "so {login} will be able to send once `clinicast init` has made the database "
            "(the daemon, or a TUI's embedded scheduler)"
        ).format(login=login)
    if not usable:
        return _("so {login} cannot send: {login} could not use the database (the database line says why)").format(
            login=login
        )
    return _("so {login} can send (the daemon, or a TUI's embedded scheduler)").format(login=login)


def _the_daemon_sends(login: str, *, made: bool, usable: bool) -> str:
    """readable_report's last word when a staff member cannot read a secret the daemon
    can: they do everything but send, as a shared server means it."""
    if not made:
        return _(
            "so, once `clinicast init` has made the database, {login} will do everything but send: the daemon "
            "will send (a TUI of {login}'s never does); this is how a shared server is meant to be"
        ).format(login=login)
    if not usable:
        return _(
            "so {login} cannot use clinicast now (the database line says why); once they can, {login} will do "
            "everything but send: sending is the daemon's (a TUI of {login}'s never sends)"
        ).format(login=login)
    return _(
        "so {login} does everything but send: the daemon sends (a TUI of {login}'s never does); "
        "this is how a shared server is meant to be"
    ).format(login=login)

"""The gateway's opt-out feed (SPEC §10, gateway-api.md "Opt-outs recorded on the app
side"), pulled on every scheduler tick.

`pull` asks `GET /v1/opt-outs?after=CURSOR&limit=500` page after page until the feed is
up to date; `record_page` records one page and the cursor after it in one transaction,
so a crash between the two is impossible: either the page and its cursor are both
recorded, or neither, and the page comes again.

Delivery is at least once: every item has a key (a hash of its fields) kept in
`feed_item`; an item seen before changes nothing. An item:
- `token` (an unsubscribe link clinicast put in an email) or `app_id` (a setting the
  patient changed in the app) names the patient; one clinicast does not know is logged
  and skipped, never fatal;
- `opted_out: true` records an opt-out (source `link` or `app`) and cancels the
  patient's deliveries still waiting on the channel (core.optouts.ledger.apply);
- `opted_out: false` for `feed` or `push` ends only an `app`-sourced opt-out recorded
  before it (an item that arrives late never undoes a later opt-out); for `email` it
  is ignored: only an administrator undoes an email opt-out.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit
from core.config.types import Config, User
from core.context import Ctx
from core.db import write_transaction
from core.delivery.logfmt import event
from core.enums import OptOutChannel, OptOutSource
from core.i18n import _
from core.models import FeedItem, Meta, Patient, database, utcnow
from core.optouts import ledger, unsubscribe

log = logging.getLogger("clinicast.optouts")

CURSOR_KEY = "opt_out_cursor"
PAGE = 500
MAX_PAGES = 20  # per tick: a long backlog is caught up over a few ticks, dispatch is not starved
_CHANNELS = {c.value: c for c in (OptOutChannel.EMAIL, OptOutChannel.FEED, OptOutChannel.PUSH)}


@dataclass
class FeedStats:
    pages: int = 0
    items: int = 0
    recorded: int = 0  # opt-outs written or cleared
    repeated: int = 0  # items already recorded (at-least-once delivery)
    unknown: int = 0  # tokens or app ids clinicast does not know
    ignored: int = 0  # malformed items, email opt-ins
    error: str = ""  # the gateway's answer when a page could not be read

    def merge(self, other: FeedStats) -> None:
        for k in ("items", "recorded", "repeated", "unknown", "ignored"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def feed_ctx(config: Config, clock=utcnow) -> Ctx:
    """The feed acts as "gateway": its opt-outs say so (recorded_by) and so does the audit."""
    return Ctx(config, User("gateway", "opt-out feed", frozenset()), clock)


def cursor() -> str | None:
    row = Meta.get_or_none(Meta.key == CURSOR_KEY)
    return row.value if row else None


def pull(dispatcher, clock=utcnow, max_pages: int = MAX_PAGES, failing: str = "") -> FeedStats:
    """Read the feed from the stored cursor until it is up to date (or `max_pages`).
    `failing`: the error of the pull before (the scheduler's): the same failure again is
    not logged again, and the first pull that works after one says so. A gateway that
    could not be reached wrote a warning every tick (17,000 lines a day), each the same."""
    ctx = feed_ctx(dispatcher.config, clock)
    stats = FeedStats()
    after = cursor()
    gateway = dispatcher.gateway
    for _page in range(max_pages):
        outcome = dispatcher.call(lambda a=after: gateway.opt_outs(a, PAGE))
        if not outcome.ok:
            stats.error = outcome.error
            break
        data = outcome.data if isinstance(outcome.data, dict) else {}
        items, nxt = data.get("items"), data.get("next")
        if not isinstance(items, list) or (items and not isinstance(nxt, str)):
            stats.error = "the gateway's opt-out feed answered without items and next"
            break
        stats.pages += 1
        if not items:
            break
        stats.merge(record_page(ctx, items, nxt))
        after = nxt
    if stats.error and stats.error != failing:
        event(log, logging.WARNING, "opt_out_feed_failed", error=stats.error, msg=_said(stats.error))
    elif failing and not stats.error:
        event(log, logging.INFO, "opt_out_feed_resumed", msg=_("the gateway's opt-out feed is read again"))
    if stats.items:
        log.info(
            "event=opt_out_feed items=%d recorded=%d repeated=%d unknown=%d ignored=%d",
            stats.items, stats.recorded, stats.repeated, stats.unknown, stats.ignored,
        )  # fmt: skip
    return stats


def _said(error: str) -> str:
    """The failure in the words of the log's reader (stored English, core.reasons)."""
    from core.reasons import said

    return _("the gateway's opt-out feed could not be read: {error}").format(error=said(error))


def item_key(item: dict) -> str:
    """The identity of an item: a repeat of it has the same key."""
    ident = {k: item.get(k) for k in ("token", "app_id", "channel", "opted_out", "at")}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def record_page(ctx: Ctx, items: list, next_cursor: str | None) -> FeedStats:
    """Record one page and the cursor after it, in one transaction."""
    stats = FeedStats(items=len(items))
    with write_transaction():
        for item in items:
            _record(ctx, item, stats)
        if next_cursor is not None:
            Meta.insert(key=CURSOR_KEY, value=next_cursor).on_conflict(
                conflict_target=[Meta.key], update={Meta.value: next_cursor}
            ).execute()
    return stats


def _record(ctx: Ctx, item, stats: FeedStats) -> None:
    parsed = _parse(item)
    if parsed is None:
        stats.ignored += 1
        log.warning("event=opt_out_item_ignored item=%s", json.dumps(item, default=str)[:300])
        return
    token, app_id, channel, opted_out, at = parsed
    key = item_key(item)
    if not _first_time(key):
        stats.repeated += 1
        return
    if token is not None:
        owner = unsubscribe.owner(token)
        patient_ids = [owner[0]] if owner else []
        channel = OptOutChannel(owner[1]) if owner else channel  # a link opts out of its own channel
    else:
        patient_ids = [pid for (pid,) in Patient.select(Patient.id).where(Patient.app_id == app_id).tuples()]
    if not patient_ids:
        stats.unknown += 1
        what = f"token {token[:6]}…" if token is not None else f"app id {app_id}"
        log.warning("event=opt_out_unknown %s channel=%s", what.replace(" ", "="), channel)
        return
    source = OptOutSource.LINK if token is not None else OptOutSource.APP
    for i, pid in enumerate(patient_ids):
        emr_id = Patient.select(Patient.emr_id).where(Patient.id == pid).scalar()
        if opted_out:
            row, cancelled = ledger.apply(ctx, pid, channel, source, at, origin_key=key if i == 0 else None)
            if row is None and not cancelled:
                continue  # already opted out of it: nothing changes
            audit.record(
                ctx, "opt_out", emr_id=emr_id, channel=channel, source=source, at=at, cancelled=cancelled,
                already=row is None,
            )  # fmt: skip
            stats.recorded += 1
        elif channel == OptOutChannel.EMAIL:
            stats.ignored += 1  # an email opt-out is undone only by an administrator
        else:
            n = ledger.clear_from_app(ctx, pid, channel, at)
            if n:
                audit.record(ctx, "opt_in", emr_id=emr_id, channel=channel, source=source, at=at, cleared=n)
                stats.recorded += 1


def _first_time(key: str) -> bool:
    t, p = FeedItem._meta.table_name, database.param
    cur = database.execute_sql(
        f"INSERT INTO {t} (key, recorded_at) VALUES ({p}, {p}) ON CONFLICT DO NOTHING", [key, utcnow()]
    )
    return cur.rowcount == 1


def _parse(item) -> tuple[str | None, str | None, OptOutChannel, bool, datetime] | None:
    """(token, app_id, channel, opted_out, at as naive UTC) or None for a malformed item."""
    if not isinstance(item, dict):
        return None
    token, app_id = item.get("token"), item.get("app_id")
    if (token is None) == (app_id is None) or not isinstance(token or app_id, str) or not (token or app_id):
        return None
    channel = _CHANNELS.get(item.get("channel"))  # type: ignore[arg-type]
    opted_out = item.get("opted_out")
    if channel is None or not isinstance(opted_out, bool):
        return None
    try:
        at = datetime.fromisoformat(str(item.get("at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    return token, app_id, channel, opted_out, at

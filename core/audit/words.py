"""An audit row's detail as an administrator reads it (SPEC §6, §12): each fact named in
their language, its value in words — a status, a channel, a consent rule's reason, a
condition — and every moment in the clinic's time zone, where the row itself keeps the
stable English keys and UTC values that `clinicast audit --json` and `--csv` give.

The TUI's audit screen and `clinicast audit` both show `describe`. A key this version
does not know (a newer version's) is shown as stored, `key=value`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from core import formats
from core.enums import Kind
from core.i18n import _, pgettext, quoted
from core.words import word


def _moment(value: object, tz: ZoneInfo) -> str:
    """A stored moment (naive UTC, or with its offset) in the clinic's zone, to the second."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return formats.when(moment, tz, seconds=True)


def _day(value: object, _tz: ZoneInfo) -> str:
    if value is None:  # no date: an invitation's window
        return "—"
    try:
        return formats.day(dt.date.fromisoformat(str(value)[:10]))
    except ValueError:
        return str(value)


def _count(value: object, _tz: ZoneInfo) -> str:
    return formats.number(value) if isinstance(value, int) and not isinstance(value, bool) else _plain(value, _tz)


def _plain(value: object, _tz: ZoneInfo) -> str:
    if isinstance(value, bool):
        return word("bool", value)
    if isinstance(value, list):
        return ", ".join(_plain(v, _tz) for v in value)
    return str(value)


def _quoted(value: object, _tz: ZoneInfo) -> str:
    return quoted(value)


def _by_reason(value: object, tz: ZoneInfo) -> str:
    """Skipped: a count (assign), or {reason code: n} (start, re-invite)."""
    from core.reasons import describe

    if not isinstance(value, dict):
        return _count(value, tz)
    total = sum(n for n in value.values() if isinstance(n, int))
    reasons = ", ".join(f"{describe(str(code))} {_count(n, tz)}" for code, n in value.items())
    return _("{n} ({reasons})").format(n=formats.number(total), reasons=reasons)


def _conditions(value: object, tz: ZoneInfo) -> str:
    """Each condition as stored (`age >= 65`) in the staff's words (« Âge >= 65 »)."""
    from core import conditions

    if not isinstance(value, list):
        return _plain(value, tz)
    shown = []
    for text in value:
        try:
            c = conditions.parse(str(text))
        except conditions.ConditionError:  # a newer version's field or operator: as stored
            shown.append(str(text))
            continue
        if isinstance(c.value, bool):
            v = "yes" if c.value else "no"
        elif isinstance(c.value, dt.date):
            v = formats.day(c.value)
        else:
            v = "" if c.value is None else str(c.value)
        shown.append(conditions.words(c.field, c.op, v))
    return ", ".join(shown)


def _how(value: object, _tz: ZoneInfo) -> str:
    words = {
        "patient": lambda: pgettext("added by", "one patient"),
        "conditions": lambda: pgettext("added by", "conditions"),
        "list": lambda: pgettext("added by", "a list of EMR ids"),
    }
    said = words.get(str(value))
    return said() if said else str(value)


def _changed(value: object, tz: ZoneInfo) -> str:
    """edit: name [old, new], window [[start, end], [start, end]], templates True."""
    if value is True:
        return pgettext("audit detail", "changed")
    if isinstance(value, list) and len(value) == 2:
        old, new = (_window(v, tz) if isinstance(v, list) else _quoted(v, tz) for v in value)
        return _("{old} → {new}").format(old=old, new=new)
    return _plain(value, tz)


def _window(value: list, tz: ZoneInfo) -> str:
    start, end = (value + [None, None])[:2]
    return _("{start} to {end}").format(start=_day(start, tz), end=_day(end, tz))


def _cleared(value: object, tz: ZoneInfo) -> str:
    """opt_in: the opt-outs cleared, each {channel, source, day} — or how many (the feed)."""
    if not isinstance(value, list):
        return _count(value, tz)
    shown = []
    for item in value:
        if not isinstance(item, dict):
            shown.append(str(item))
            continue
        shown.append(
            _("{channel} ({source}, {day})").format(
                channel=word("channel", item.get("channel")),
                source=word("source", item.get("source")),
                day=_day(item.get("day"), tz),
            )
        )
    return ", ".join(shown)


def _what(value: object, _tz: ZoneInfo) -> str:
    return pgettext("exported", "the recipient list") if value == "recipients" else str(value)


def _status(value: object, _tz: ZoneInfo) -> str:
    return word("recipient", value) if value else pgettext("exported", "every status")


def _kind(value: object, _tz: ZoneInfo) -> str:
    """A campaign's kind (create), or a test's delivery kind (test_send: test_email)."""
    return word("kind" if value in set(Kind) else "delivery kind", value)


def _of(what: str) -> Callable[[object, ZoneInfo], str]:
    return lambda value, _tz: word(what, value)


# key -> (its label, its value in words), in the order a row's facts are read
_KEYS: dict[str, tuple[Callable[[], str], Callable[[object, ZoneInfo], str]]] = {
    "kind": (lambda: pgettext("audit detail", "kind"), _kind),
    "name": (lambda: pgettext("audit detail", "name"), _changed),
    "starts_on": (lambda: pgettext("audit detail", "starts"), _day),
    "ends_on": (lambda: pgettext("audit detail", "ends"), _day),
    "window": (lambda: pgettext("audit detail", "dates"), _changed),
    "templates": (lambda: pgettext("audit detail", "templates"), _changed),
    "how": (lambda: pgettext("audit detail", "added by"), _how),
    "conditions": (lambda: pgettext("audit detail", "conditions"), _conditions),
    # an assign by a value no patient has, confirmed (the TUI's question, --allow-unknown-values)
    "unknown_values_confirmed": (
        lambda: pgettext("audit detail", "confirmed though no patient has the value"),
        _conditions,
    ),
    "count": (lambda: pgettext("audit detail", "EMR ids in the list"), _count),
    "emr_id": (lambda: word("field", "emr_id"), _plain),
    "added": (lambda: pgettext("audit detail", "added"), _count),
    "already_assigned": (lambda: pgettext("audit detail", "already there"), _count),
    "will_send": (lambda: pgettext("audit detail", "to send"), _count),
    "queued_for": (lambda: pgettext("audit detail", "going out from"), _moment),
    "skipped": (lambda: pgettext("audit detail", "skipped"), _by_reason),
    "previous_status": (lambda: pgettext("audit detail", "status before"), _of("recipient")),
    "stopped": (lambda: pgettext("audit detail", "sends cancelled"), _count),
    "already_sent": (lambda: pgettext("audit detail", "already sent"), _count),
    "in_flight": (lambda: pgettext("audit detail", "being sent"), _count),
    "to": (lambda: pgettext("audit detail", "to"), _plain),
    "delivery": (lambda: pgettext("audit detail", "delivery"), lambda v, _tz: f"#{v}"),
    "channel": (lambda: pgettext("audit detail", "channel"), _of("channel")),
    "source": (lambda: pgettext("audit detail", "source"), _of("source")),
    "at": (lambda: pgettext("audit detail", "asked at"), _moment),
    "already": (lambda: pgettext("audit detail", "already opted out"), _plain),
    "cancelled": (lambda: pgettext("audit detail", "sends cancelled"), _count),
    "cleared": (lambda: pgettext("audit detail", "opt-outs cleared"), _cleared),
    "note": (lambda: pgettext("audit detail", "note"), _quoted),
    "file": (lambda: pgettext("audit detail", "file"), _plain),
    "total": (lambda: pgettext("audit detail", "rows"), _count),
    "inserted": (lambda: pgettext("audit detail", "new"), _count),
    "updated": (lambda: pgettext("audit detail", "updated"), _count),
    "unchanged": (lambda: pgettext("audit detail", "unchanged"), _count),
    "joined": (lambda: pgettext("audit detail", "joined the app"), _count),
    "kept_opted_out": (lambda: pgettext("audit detail", "opt-outs kept"), _count),
    "ignored_columns": (lambda: pgettext("audit detail", "columns ignored"), _plain),
    "query": (lambda: pgettext("audit detail", "searched for"), _quoted),
    "what": (lambda: pgettext("audit detail", "exported"), _what),
    "status": (lambda: pgettext("audit detail", "status"), _status),
    "rows": (lambda: pgettext("audit detail", "rows"), _count),
}


def row_number(row_id: int) -> str:
    """« n° 6 », "#6": an audit row as `clinicast audit verify` names it and as the trail's
    listings (`clinicast audit`, the audit screen) number it, so the row verify names is
    found in them."""
    return pgettext("audit row", "#{id}").format(id=row_id)


def describe(detail: dict, tz: ZoneInfo) -> str:
    """« ajoutés : 5 · ignorés : 2 (aucun consentement marketing 2) », in the language in
    use: the known facts in their order, then any other as stored. Empty facts (no
    columns ignored, no note) are left out."""
    parts = []
    for key, (label, value) in _KEYS.items():
        if key not in detail or (detail[key] in (None, "", [], {}) and key != "status"):  # status "": every one
            continue
        parts.append(_("{label}: {value}").format(label=label(), value=value(detail[key], tz)))
    parts += [f"{k}={v}" for k, v in detail.items() if k not in _KEYS]
    return " · ".join(parts)


__all__ = ["describe", "row_number"]

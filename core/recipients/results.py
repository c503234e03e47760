"""What the recipient actions answer (SPEC §7's JSON shapes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core import formats
from core.enums import IN_FEED_NO_PUSH, WILL_RECEIVE_NOTHING, Kind, RecipientStatus
from core.i18n import _, clauses, ngettext
from core.reasons import counted, describe


def iso(d: datetime | None) -> str | None:
    return d.isoformat(timespec="seconds") + "Z" if d else None


@dataclass
class AssignResult:
    added: int = 0
    already_assigned: int = 0
    skipped: int = 0
    not_found: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)  # reason code -> n
    published: int = 0
    duplicates: list[str] = field(default_factory=list)  # an id list's "FILE:LINE: duplicate of line N ('id')"
    not_found_lines: list[str] = field(default_factory=list)  # an id list's "FILE:LINE: unknown EMR id 'id'"
    # of `skipped_reasons`, the rows this assign wrote as skipped (new on the campaign, or
    # brought back): recipients all the same, with their reason; the others were on the
    # campaign already and stay skipped
    skipped_added: dict[str, int] = field(default_factory=dict)

    def plus(self, other: AssignResult) -> AssignResult:
        """Two assigns as one (staff adding several patients in a row)."""
        return AssignResult(
            added=self.added + other.added,
            already_assigned=self.already_assigned + other.already_assigned,
            skipped=self.skipped + other.skipped,
            not_found=self.not_found + other.not_found,
            skipped_reasons=_sum(self.skipped_reasons, other.skipped_reasons),
            published=self.published + other.published,
            duplicates=self.duplicates + other.duplicates,
            not_found_lines=self.not_found_lines + other.not_found_lines,
            skipped_added=_sum(self.skipped_added, other.skipped_added),
        )

    @property
    def written(self) -> int:
        """The rows this assign wrote: the patients added, and those added as skipped."""
        return self.added + sum(self.skipped_added.values())

    def _still_skipped(self) -> dict[str, int]:
        """{reason: n} of the patients already on the campaign it leaves skipped."""
        return _minus(self.skipped_reasons, self.skipped_added)

    def words(self) -> str:
        """What the assign did, for people: "4 added; 11 added as skipped (no marketing
        consent)" — a patient a rule skips is added all the same, with the reason (SPEC
        §4), and shows so in the list; the first count is the preview's and the Assign
        button's (those who will receive it). The TUI's notice; the `lines` as one sentence."""
        return clauses(self.lines())

    def lines(self) -> list[str]:
        """`words`, one clause a line — the command line's output: "4 added", "11 added as
        skipped (no marketing consent)", "2 already there"."""
        num = formats.number
        parts = []
        added_skipped = sum(self.skipped_added.values())
        if self.added or not added_skipped:
            parts.append(ngettext("{n} added", "{n} added", self.added).format(n=num(self.added)))
        if added_skipped:
            parts.append(added_as_skipped(self.skipped_added))
        if self.already_assigned:
            n = self.already_assigned
            parts.append(ngettext("{n} already there", "{n} already there", n).format(n=num(n)))
        kept = self._still_skipped()
        if kept:
            parts.append(still_skipped(kept))
        if self.published:
            n = self.published
            parts.append(ngettext("shown in {n} feed now", "shown in {n} feeds now", n).format(n=num(n)))
        if self.not_found:
            n = len(self.not_found)
            parts.append(ngettext("{n} unknown id", "{n} unknown ids", n).format(n=num(n)))
        return parts

    def words_for(self, name: str, emr_id: str) -> str:
        """What adding the one patient `name` did: "Anna Tremblay (100432) added as
        skipped: no app account." """
        if self.added:
            return _("{name} ({emr_id}) added.").format(name=name, emr_id=emr_id)
        if self.skipped_added:
            return _("{name} ({emr_id}) added as skipped: {reasons}.").format(
                name=name, emr_id=emr_id, reasons=_why(self.skipped_added)
            )
        kept = self._still_skipped()
        if kept:
            return _("{name} ({emr_id}) was already a recipient, still skipped: {reasons}.").format(
                name=name, emr_id=emr_id, reasons=_why(kept)
            )
        return _("{name} ({emr_id}) was already a recipient.").format(name=name, emr_id=emr_id)

    def to_json(self) -> dict:
        # duplicates and the lines of unknown ids are said in the text output only: scripts keep the shape they know;
        # skipped_reasons says why each skipped patient was (reason code -> count)
        return {
            "added": self.added,
            "already_assigned": self.already_assigned,
            "skipped": self.skipped,
            "skipped_reasons": dict(sorted(self.skipped_reasons.items())),
            "not_found": self.not_found,
        }


def added_as_skipped(reasons: dict[str, int]) -> str:
    """ "11 added as skipped (no marketing consent)", « 11 ajoutés comme écartés (…) »:
    patients a consent rule skips are added all the same, with their reason (SPEC §4),
    and will receive nothing. The product's one wording of it: an assign's result says
    it, and so does its preview before (the conditions tab)."""
    n = sum(reasons.values())
    return ngettext("{n} added as skipped ({reasons})", "{n} added as skipped ({reasons})", n).format(
        n=formats.number(n), reasons=_why(reasons)
    )


def still_skipped(reasons: dict[str, int]) -> str:
    """ "2 already there and still skipped (no app account)": patients on the campaign
    already whom the assign leaves skipped — said by an assign's result and its preview."""
    n = sum(reasons.values())
    return ngettext(
        "{n} already there and still skipped ({reasons})",
        "{n} already there and still skipped ({reasons})",
        n,
    ).format(n=formats.number(n), reasons=_why(reasons))


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """{reason: n} of `a` less those of `b`, the reasons left with none dropped."""
    out = {c: n - b.get(c, 0) for c, n in a.items()}
    return {c: n for c, n in out.items() if n > 0}


def _sum(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for code, n in b.items():
        out[code] = out.get(code, 0) + n
    return out


def _why(reasons: dict[str, int]) -> str:
    """Why some patients are skipped: the reason's words when there is one ("no app
    account"), else each reason with its count, most first ("200 without marketing
    consent, 26 opted out of email")."""
    if len(reasons) == 1:
        return describe(next(iter(reasons)))
    return ", ".join(counted(code, n) for code, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class AssignPreview:
    """What an assign by conditions would do now (core.recipients.preview_conditions)."""

    matched: int = 0
    added: int = 0
    already_assigned: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)  # reason code -> n
    # of `skipped_reasons`, those the assign would write as skipped (the others are on
    # the campaign already and stay skipped), as AssignResult.skipped_added
    skipped_added: dict[str, int] = field(default_factory=dict)
    # the conditions naming a text value no patient has (core.conditions.UnknownValue):
    # said at their row, and the assign asks before going ahead
    unknown: list = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_reasons.values())

    def line(self) -> str:
        """ "1,103 match · 877 will be added · 226 added as skipped (no marketing consent)":
        the skipped in the words the assign's result then says them (`added_as_skipped`)."""

        parts = [
            ngettext("{n} matches", "{n} match", self.matched).format(n=formats.number(self.matched)),
            ngettext("{n} will be added", "{n} will be added", self.added).format(n=formats.number(self.added)),
        ]
        if self.already_assigned:
            n = self.already_assigned
            parts.append(ngettext("{n} already there", "{n} already there", n).format(n=formats.number(n)))
        if self.skipped_added:
            parts.append(added_as_skipped(self.skipped_added))
        kept = _minus(self.skipped_reasons, self.skipped_added)
        if kept:
            parts.append(still_skipped(kept))
        return " · ".join(parts)


# --- counts said inside a sentence: each agrees with its number (« 1 déjà envoyé »)


def already_sent(n: int) -> str:
    """ "40 already sent": recipients sent to before (a start's, a stop's refusal)."""
    return ngettext("{n} already sent", "{n} already sent", n).format(n=formats.number(n))


def being_sent(n: int) -> str:
    """ "1 being sent at this moment": messages handed to a transport, which finish."""
    return ngettext("{n} being sent at this moment", "{n} being sent at this moment", n).format(n=formats.number(n))


def re_invited_before(n: int) -> str:
    return ngettext("{n} re-invited before", "{n} re-invited before", n).format(n=formats.number(n))


@dataclass
class StartPlan:
    will_send: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason code -> n
    already_sent: int = 0
    in_progress: int = 0
    queued_for: datetime | None = None  # when the sends go out (window start, sending hours)
    sending_begins: str = ""  # "" = at once; else "Thursday Mar 5 at 09:00, when sending hours begin"
    sending_begins_en: str = ""  # the spec's English of it, for --json (scripts read it)
    pace: str = ""  # "" = no cap; else when the last email leaves at the relay's pace (core.pace)
    kind: str = Kind.INVITATION  # the campaign's: what goes out (emails or pushes) and who is left out how
    # nothing alive sends what falls due (core.scheduling.heartbeat.something_sends: no daemon's heartbeat,
    # no embedded scheduler running in this session): the sends wait in the queue
    nobody_sends: bool = False

    # --- in words: each sentence says one thing (how many go, when; who is left out, why)

    def waiting_line(self) -> str:
        """ "40 emails will wait in the queue until the sending daemon runs — none is running
        now.": due now, but nothing alive sends them (`nobody_sends`); "" otherwise — none
        go, or they are held until a moment (`sending_begins`, said as it is), or something sends."""
        n = self.will_send
        if not n or self.sending_begins or not self.nobody_sends:
            return ""
        if self.kind == Kind.BROADCAST:
            said = ngettext(
                "{n} push notification will wait in the queue until the sending daemon runs — none is running now.",
                "{n} push notifications will wait in the queue until the sending daemon runs — none is running now.",
                n,
            )
        else:
            said = ngettext(
                "{n} email will wait in the queue until the sending daemon runs — none is running now.",
                "{n} emails will wait in the queue until the sending daemon runs — none is running now.",
                n,
            )
        return said.format(n=formats.number(n))

    def sending_line(self) -> str:
        """ "40 push notifications will go out Tuesday Dec 8 at 00:00, when the window opens.";
        "... will go out now." only when something sends them (else `waiting_line`)."""
        n = self.will_send
        waiting = self.waiting_line()
        if waiting:
            return waiting
        if self.kind == Kind.BROADCAST:
            if not n:
                return _("No push notification will go out.")
            if self.sending_begins:
                said = ngettext(
                    "{n} push notification will go out {when}.", "{n} push notifications will go out {when}.", n
                )
            else:
                said = ngettext("{n} push notification will go out now.", "{n} push notifications will go out now.", n)
        else:
            if not n:
                return _("No email will go out.")
            if self.sending_begins:
                said = ngettext("{n} email will go out {when}.", "{n} emails will go out {when}.", n)
            else:
                said = ngettext("{n} email will go out now.", "{n} emails will go out now.", n)
        return said.format(n=formats.number(n), when=self.sending_begins)

    def _left_out(self) -> tuple[dict[str, int], dict[str, int]]:
        """(without the push, in their feed all the same; skipped: nothing at all), by reason."""
        from core.rules import FEED_ONLY

        push_only = {c: n for c, n in self.skipped.items() if self.kind == Kind.BROADCAST and c in FEED_ONLY}
        return push_only, {c: n for c, n in self.skipped.items() if c not in push_only}

    def left_out_headlines(self) -> list[str]:
        """Who the start leaves out, one line a group: "Without a push notification: 20 (the
        message shows in their feed all the same)", "Skipped: 1 (will receive nothing)"."""
        push_only, nothing = self._left_out()
        lines = []
        if push_only:
            n = sum(push_only.values())
            lines.append(
                ngettext(
                    "Without a push notification: {n} (the message shows in their feed all the same)",
                    "Without a push notification: {n} (the message shows in their feed all the same)",
                    n,
                ).format(n=formats.number(n))
            )
        if nothing:
            n = sum(nothing.values())
            lines.append(
                ngettext("Skipped: {n} (will receive nothing)", "Skipped: {n} (will receive nothing)", n).format(
                    n=formats.number(n)
                )
            )
        return lines

    def left_out_lines(self) -> list[str]:
        """`left_out_headlines`, each followed by its reasons, most first ("  18 with push
        notifications off")."""
        heads = iter(self.left_out_headlines())
        lines = []
        for group in self._left_out():
            if group:
                lines.append(next(heads))
                lines += ["  " + counted(code, n) for code, n in sorted(group.items(), key=lambda kv: (-kv[1], kv[0]))]
        return lines

    def breakdown(self) -> str:
        """What a start would do, shown before it is confirmed (the TUI's dialog)."""
        lines = [self.sending_line()]
        if self.pace:  # the relay's pace: when the last one leaves
            lines.append(self.pace[:1].upper() + self.pace[1:])
        lines += self.left_out_lines()
        n = self.already_sent
        lines.append(
            ngettext("Already sent (not sent again): {n}", "Already sent (not sent again): {n}", n).format(
                n=formats.number(n)
            )
        )
        if self.in_progress:
            n = self.in_progress
            lines.append(ngettext("Being sent now: {n}", "Being sent now: {n}", n).format(n=formats.number(n)))
        return "\n".join(lines)

    def done(self) -> str:
        """What a start did, in a few lines (the TUI's notice once it is started)."""
        return "\n".join([self.sending_line(), *self.left_out_headlines()])

    # --- a re-invite's (core.recipients.reinvite): an invitation campaign's plan

    def _not_reinvited_lines(self) -> list[str]:
        """Who a re-invite leaves out now and why, most first, and who was re-invited before."""
        lines = []
        if self.skipped:
            n = sum(self.skipped.values())
            lines.append(ngettext("Not re-invited now: {n}", "Not re-invited now: {n}", n).format(n=formats.number(n)))
            for why, count in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append("  " + counted(why, count))  # « 2 désabonnés des courriels »: agreeing with its count
        n = self.already_sent
        lines.append(
            ngettext("Re-invited before (not sent again): {n}", "Re-invited before (not sent again): {n}", n).format(
                n=formats.number(n)
            )
        )
        return lines

    def reinvite_lines(self) -> list[str]:
        """What a re-invite would do, one line a thing — the TUI's confirmation and the
        command line's --dry-run: "Will be sent a fresh invitation (new code, 14 days): 3, now"
        ("now" only when something sends them, `nobody_sends`), who is left out and why, who
        was re-invited before."""
        from core.campaigns.actions import INVITATION_VALID_DAYS

        n = self.will_send
        if self.sending_begins:
            first = ngettext(
                "Will be sent a fresh invitation (new code, {days} days): {n}, {when}",
                "Will be sent a fresh invitation (new code, {days} days): {n}, {when}",
                n,
            ).format(days=INVITATION_VALID_DAYS, n=formats.number(n), when=self.sending_begins)
        elif self.nobody_sends:  # as `waiting_line`: no moment to promise
            first = ngettext(
                "Will be sent a fresh invitation (new code, {days} days): {n}, once the sending daemon runs"
                " — none is running now",
                "Will be sent a fresh invitation (new code, {days} days): {n}, once the sending daemon runs"
                " — none is running now",
                n,
            ).format(days=INVITATION_VALID_DAYS, n=formats.number(n))
        else:
            first = ngettext(
                "Will be sent a fresh invitation (new code, {days} days): {n}, now",
                "Will be sent a fresh invitation (new code, {days} days): {n}, now",
                n,
            ).format(days=INVITATION_VALID_DAYS, n=formats.number(n))
        return [first, *self._not_reinvited_lines()]

    def reinvited_lines(self) -> list[str]:
        """What a re-invite did, one line a thing — the TUI's notice and the command line's
        output: "Re-invited: 3 fresh invitations queued", when they go out if not now (or that
        they wait for the sending daemon), who was left out and why, who was re-invited before."""
        n = self.will_send
        lines = [
            ngettext("Re-invited: {n} fresh invitation queued", "Re-invited: {n} fresh invitations queued", n).format(
                n=formats.number(n)
            )
        ]
        if self.sending_begins or self.nobody_sends:  # when they leave, or that they wait for a sender
            lines.append(self.sending_line())
        return lines + self._not_reinvited_lines()

    def to_json(self) -> dict:
        return {
            "will_send": self.will_send,
            "skipped": dict(self.skipped),
            "already_sent": self.already_sent,
            "in_progress": self.in_progress,
            "queued_for": iso(self.queued_for),
            "sending_begins": self.sending_begins_en or None,  # null: at once
            "pace": self.pace,
            # nothing alive sends them (no daemon's heartbeat, no embedded scheduler of this
            # session): they wait in the queue; `sending_begins` null does not mean "at once" then
            "nobody_sends": self.nobody_sends,
        }


def shown_status(status: str, reason_code: str, will_skip_code: str = "") -> str:
    """What a person reads of a recipient's status, in the ledger, their detail and the
    command line: the status, except
    - a broadcast recipient skipped for the push only (core.rules.FEED_ONLY), whose
      message is in their feed (IN_FEED_NO_PUSH);
    - an assigned recipient whom a rule now forbids the feed or the email
      (`will_skip_code`, an opt-out recorded since the assign: the next start skips
      them), who will receive nothing (WILL_RECEIVE_NOTHING).
    `--json` keeps the stored status."""
    from core.rules import FEED_ONLY

    if status == RecipientStatus.SKIPPED and reason_code in FEED_ONLY:
        return IN_FEED_NO_PUSH
    if status == RecipientStatus.ASSIGNED and will_skip_code and will_skip_code not in FEED_ONLY:
        return WILL_RECEIVE_NOTHING
    return status


@dataclass
class RecipientRow:
    id: int
    emr_id: str
    name: str
    status: str
    reason_code: str
    reason_detail: str
    added_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    first_copy_at: datetime | None = None  # an earlier copy of unknown outcome went then (maybe_twice)
    # assigned, and a consent rule forbids them now: the reason (and its detail) the next
    # start will skip them with — core.rules, read with the row; nothing stored until then
    will_skip_code: str = ""
    will_skip_detail: str = ""

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.reason_code, self.will_skip_code)

    @property
    def shown_reason_code(self) -> str:
        """The reason a person reads beside the status ("" none): why the next start will
        skip them, else the stored one."""
        return self.will_skip_code or self.reason_code

    def reason(self, language: str | None = None, when=None) -> str:
        """The reason in words (core.reasons): why the next start will skip them, else the
        stored one; `when(moment) -> str` writes the times a reason names (maybe_twice: the
        first copy's and the second's) as staff read them."""
        if self.will_skip_code:
            return describe(self.will_skip_code, self.will_skip_detail, language)
        return describe(self.reason_code, self.reason_detail, language, self._times(when))

    def _times(self, when) -> dict[str, str] | None:
        if when is None or self.first_copy_at is None or self.sent_at is None:
            return None
        return {"first": when(self.first_copy_at), "sent": when(self.sent_at)}

    def to_json(self) -> dict:
        return {
            "emr_id": self.emr_id,
            "name": self.name,
            "status": self.status,
            "reason": self.reason_code,  # the stable code, for scripts (core.reasons)
            # its English words, with the server's message (the stored reason's, as `reason`)
            "reason_text": describe(self.reason_code, self.reason_detail, "en", self._times(iso)),
            "added_at": iso(self.added_at),
            "sent_at": iso(self.sent_at),
            # maybe_twice: the first copy, whose answer never came, went then (null: none)
            "first_copy_at": iso(self.first_copy_at),
        }

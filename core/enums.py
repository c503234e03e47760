"""The product's words as types: one definition each, used by models, SQL, CLI and TUI.

Every value is a `StrEnum`, so it is stored, compared and printed as its spec word
(`RecipientStatus.SENT == "sent"`), and `--json` shows exactly these strings.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """A campaign's kind (SPEC §2), chosen at creation."""

    INVITATION = "invitation"
    BROADCAST = "broadcast"

    @property
    def channel(self) -> Channel:
        return Channel.EMAIL if self is Kind.INVITATION else Channel.APP


class Channel(StrEnum):
    """How a campaign reaches patients: derived from its kind."""

    EMAIL = "email"
    APP = "app"


class Language(StrEnum):
    FR = "fr"
    EN = "en"


LANGUAGES: tuple[Language, ...] = tuple(Language)


class Permission(StrEnum):
    CAMPAIGNS = "campaigns"
    ADMIN = "admin"


class RecipientStatus(StrEnum):
    """SPEC §4."""

    ASSIGNED = "assigned"
    QUEUED = "queued"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"
    REMOVED = "removed"


# a recipient still waiting for its email or push: queued, or retrying after a failure
RECIPIENT_WAITING: tuple[RecipientStatus, ...] = (RecipientStatus.QUEUED, RecipientStatus.RETRYING)


class CampaignStatus(StrEnum):
    """Where a campaign's sending stands now (SPEC §2), one definition:
    core.campaigns.status_of."""

    DRAFT = "draft"  # never started, and in nobody's feed
    PUBLISHED = "published"  # a broadcast in feeds whose pushes were never started
    SENDING = "sending"
    STOPPED = "stopped"  # stopped: recipients it had not reached wait for a new start
    SENT = "sent"
    SENT_WITH_ERRORS = "sent with errors"


# What a person reads for a broadcast recipient skipped only for the push (push off, or
# opted out of push: core.rules.FEED_ONLY): the message is in their feed.
IN_FEED_NO_PUSH = "in feed, no push"

# What a person reads for an assigned recipient whom a consent rule now forbids both the
# feed and the push, or the email (an opt-out recorded since the assign, a directory
# change): the next start skips them, consent being checked again then (SPEC §4). Nothing
# is stored until that start; core.recipients.results.shown_status says it meanwhile.
WILL_RECEIVE_NOTHING = "will receive nothing"


class WindowState(StrEnum):
    UPCOMING = "upcoming"
    LIVE = "live"
    ENDED = "ended"
    INVALID = "invalid"  # a stored day out of core.dates' range (campaigns.window_state)


class DeliveryKind(StrEnum):
    """One outgoing call kept in the outbox (SPEC §5)."""

    EMAIL = "email"  # an invitation email to one recipient
    PUSH = "push"  # a broadcast's push to one recipient (sent in batches per broadcast)
    PUBLISH = "publish"  # show a broadcast in one recipient's feed (sent in batches)
    UNPUBLISH = "unpublish"  # hide it from one recipient's feed
    PUT = "put"  # create or replace a broadcast's content and window on the gateway
    EXPIRE = "expire"  # remove a broadcast from every feed
    TEST_EMAIL = "test_email"  # a staff member's test of an invitation (no recipient)
    TEST_BROADCAST = "test_broadcast"  # a staff member's test of a broadcast (feed entry + push)

    @property
    def reaches_patient(self) -> bool:
        """An email or a push: bound by sending hours, consent and opt-outs."""
        return self in (DeliveryKind.EMAIL, DeliveryKind.PUSH)

    @property
    def by_email(self) -> bool:
        return self in (DeliveryKind.EMAIL, DeliveryKind.TEST_EMAIL)


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its due time
    SENDING = "sending"  # claimed by a dispatcher (see Delivery.handed_at for "in flight")
    SENT = "sent"
    RETRYING = "retrying"  # failed, due again at due_at
    FAILED = "failed"  # given up, with the reason
    SKIPPED = "skipped"  # a rule forbade it at send time
    CANCELLED = "cancelled"  # removed, stopped, opted out, or made pointless

    @property
    def finished(self) -> bool:
        return self in FINISHED


OPEN: tuple[DeliveryState, ...] = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING)
FINISHED: tuple[DeliveryState, ...] = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.SKIPPED,
    DeliveryState.CANCELLED,
)


class OptOutChannel(StrEnum):
    """What a patient opted out of (SPEC §10): `all` covers the three others."""

    EMAIL = "email"
    FEED = "feed"
    PUSH = "push"
    ALL = "all"


class OptOutSource(StrEnum):
    LINK = "link"  # the patient's unsubscribe link
    APP = "app"  # a setting the patient changed in the app
    STAFF = "staff"  # recorded by a staff member, with a note


class Role(StrEnum):
    """Who runs a dispatcher (heartbeat rows)."""

    DAEMON = "daemon"
    TUI = "tui"

"""Peewee models: fields, indexes, tiny properties — no workflows.

All timestamps are naive UTC datetimes; dates (window days, birth dates) are plain
dates in the clinic's time zone. Statuses, kinds and channels are the StrEnums of
`core.enums`, stored as their spec words. The schema itself is built by the numbered
migrations in `core/migrations/`; a test checks that they give exactly these tables.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import peewee as pw

from core.enums import DeliveryState, Kind, RecipientStatus

database = pw.DatabaseProxy()


def utcnow() -> datetime:
    """Naive UTC now, the form every DateTimeField stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_uuid() -> str:
    return str(uuid.uuid4())


class BaseModel(pw.Model):
    id: Any  # peewee's implicit AutoField: an int on a row, a field in a query (Recipient.id.in_(...))

    class Meta:
        database = database
        legacy_table_names = False


class Meta(BaseModel):
    """Key/value facts about the database itself (schema version, opt-out feed cursor)."""

    key = pw.CharField(primary_key=True, max_length=64)
    value = pw.TextField()


class Patient(BaseModel):
    emr_id = pw.CharField(max_length=64, unique=True)  # as the record system writes it
    # the id compared on import and in id lists (core.emr.key: Unicode-normalised,
    # invisible characters dropped, leading zeros of an all-digit chart number dropped)
    emr_key = pw.CharField(max_length=64, unique=True, null=True)
    first_name = pw.CharField(max_length=120, default="")
    last_name = pw.CharField(max_length=120, default="")
    date_of_birth = pw.DateField(null=True, index=True)
    sex = pw.CharField(max_length=16, default="")
    language = pw.CharField(max_length=2, default="")
    email = pw.CharField(max_length=254, default="", index=True)
    phone = pw.CharField(max_length=40, default="")
    app_id = pw.CharField(max_length=64, null=True, index=True)
    marketing_consent = pw.BooleanField(default=False)
    push_enabled = pw.BooleanField(default=False)
    do_not_contact = pw.BooleanField(default=False)
    practitioner = pw.CharField(max_length=120, default="")
    postal_code = pw.CharField(max_length=16, default="")
    last_visit = pw.DateField(null=True)
    # lower-cased, accent-free "last first" for search as you type
    search_name = pw.CharField(max_length=250, default="", index=True)
    imported_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Campaign(BaseModel):
    uuid = pw.CharField(max_length=36, unique=True, default=new_uuid)  # the gateway's broadcast_id
    kind = pw.CharField(max_length=16)
    name = pw.CharField(max_length=120)
    starts_on = pw.DateField(null=True)
    ends_on = pw.DateField(null=True)
    archived = pw.BooleanField(default=False, index=True)
    created_at = pw.DateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=64)
    updated_at = pw.DateTimeField(default=utcnow)
    first_started_at = pw.DateTimeField(null=True)
    last_started_at = pw.DateTimeField(null=True)
    content_version = pw.IntegerField(default=1)  # bumped when template or window changes
    published_at = pw.DateTimeField(null=True)  # window-open publish job done
    expired_at = pw.DateTimeField(null=True)  # window-end expire job done

    @property
    def channel(self) -> str:
        return Kind(self.kind).channel


class Template(BaseModel):
    campaign = pw.ForeignKeyField(Campaign, backref="templates", on_delete="CASCADE")
    campaign_id: int
    language = pw.CharField(max_length=2)
    subject = pw.TextField(default="")
    title = pw.TextField(default="")
    body = pw.TextField(default="")
    push = pw.TextField(default="")
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("campaign", "language"), True),)


class Recipient(BaseModel):
    campaign = pw.ForeignKeyField(Campaign, backref="recipients", on_delete="CASCADE")
    campaign_id: int
    patient = pw.ForeignKeyField(Patient, backref="recipients")
    patient_id: int
    status = pw.CharField(max_length=16, default=RecipientStatus.ASSIGNED)
    reason_code = pw.CharField(max_length=32, default="")  # core.reasons.Reason
    reason = pw.TextField(default="")  # its detail (a server's message, an opt-out's facts)
    added_at = pw.DateTimeField(default=utcnow)
    added_by = pw.CharField(max_length=64, default="")
    queued_at = pw.DateTimeField(null=True)
    sent_at = pw.DateTimeField(null=True)
    next_attempt_at = pw.DateTimeField(null=True)
    removed_at = pw.DateTimeField(null=True)
    in_feed = pw.BooleanField(default=False)  # a publish delivery was written for them
    # an email copy whose outcome was unknown (the answer never came) went at this time:
    # with a later copy sent, the patient may have it twice (reason maybe_twice)
    first_copy_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("campaign", "patient"), True),
            (("campaign", "status"), False),
        )


# the few recipients with a first copy of unknown outcome, counted by `clinicast status`
# without reading the others (migration 0007)
Recipient.add_index(
    Recipient.index(Recipient.campaign, name="recipient_first_copy").where(Recipient.first_copy_at.is_null(False))
)


class RecipientTally(BaseModel):
    """How many recipients of a campaign have a status, kept by the database itself:
    triggers on `recipient` (migration 0006) add each change in the transaction that
    makes it, so a list of campaigns reads a few hundred rows, never a million (issue
    #21). The count of (campaign, status) is SUM(n) over its rows: SQLite keeps one row
    a pair; PostgreSQL adds a row a statement (no row every sender would wait on), and
    `core.tally.fold` sums them back into one. A plain id, like the audit's: rows of a
    deleted campaign are dropped by the fold."""

    campaign = pw.IntegerField()
    status = pw.CharField(max_length=16)
    n = pw.IntegerField()

    class Meta:
        indexes = ((("campaign", "status"), False),)


class RowCount(BaseModel):
    """How many rows `patient` and `delivery` have, kept by the database's triggers
    (issue #21). PostgreSQL (migration 0011): each statement that inserts or deletes
    some adds a row (table, +/- n), `core.tally.fold` sums them back. SQLite (0012): the
    outbox's one row, moved by each row; patients are counted from their b-tree there.
    A table's count is SUM(n)."""

    name = pw.CharField(max_length=32)
    n = pw.BigIntegerField()

    class Meta:
        indexes = ((("name",), False),)


class Delivery(BaseModel):
    """One outgoing call, kept until it succeeds or is given up (the outbox).

    A dispatcher *claims* a row (status `sending`, `claimed_by`, a `claim_token` unique
    to that claim, `lease_until`), checks it again and *hands it over* to a transport
    (`handed_token` = its claim token, `handed_at`, `attempts` + 1) in one transaction
    immediately before the call, then records the result guarded by `handed_token`.
    A row `sending` with `handed_at` set is *in flight*; one without is only claimed,
    and a stop or a removal cancels it.
    """

    kind = pw.CharField(max_length=16)
    campaign = pw.ForeignKeyField(Campaign, backref="deliveries", on_delete="CASCADE")
    campaign_id: int
    recipient = pw.ForeignKeyField(Recipient, null=True, backref="deliveries", on_delete="CASCADE")
    recipient_id: int | None
    idempotency_key = pw.CharField(max_length=36, unique=True, default=new_uuid)
    status = pw.CharField(max_length=16, default=DeliveryState.PENDING)
    due_at = pw.DateTimeField(default=utcnow)
    attempts = pw.IntegerField(default=0)  # hand-overs to a transport
    outcomes_unknown = pw.IntegerField(default=0)  # hand-overs whose outcome could not be known
    first_unknown_at = pw.DateTimeField(null=True)  # the first of them: when it was handed over
    claimed_by = pw.CharField(max_length=120, null=True)
    claim_token = pw.CharField(max_length=36, null=True)
    lease_until = pw.DateTimeField(null=True)
    handed_token = pw.CharField(max_length=36, null=True)
    handed_at = pw.DateTimeField(null=True)
    error_code = pw.CharField(max_length=32, default="")  # core.reasons.Reason
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)
    content_version = pw.IntegerField(default=1)
    # test sends (kind test_*): the patient rendered for, the staff member's address or
    # app id, and who asked
    patient = pw.ForeignKeyField(Patient, null=True, backref="test_deliveries")
    patient_id: int | None
    target = pw.TextField(default="")
    requested_by = pw.CharField(max_length=64, default="")

    class Meta:
        indexes = (
            (("status", "due_at"), False),
            (("campaign", "kind", "status"), False),
        )


# the rows a dispatcher holds, looked up by `claimed_by` (lease renewal, adoption): a claim
# adds its row, a result removes it, finished rows are not in it (migration 0009)
Delivery.add_index(
    Delivery.index(Delivery.claimed_by, name="delivery_claimed").where(Delivery.claimed_by.is_null(False))
)


class Invitation(BaseModel):
    """The personal invitation carried by one email (created when the email is built)."""

    recipient = pw.ForeignKeyField(Recipient, backref="invitations", on_delete="CASCADE")
    recipient_id: int
    patient = pw.ForeignKeyField(Patient, backref="invitations")
    patient_id: int
    campaign = pw.ForeignKeyField(Campaign, backref="invitations", on_delete="CASCADE")
    campaign_id: int
    # empty once outbox retention deleted the finished email (core.delivery.retention)
    delivery = pw.ForeignKeyField(Delivery, null=True, unique=True, backref="invitation", on_delete="CASCADE")
    delivery_id: int | None
    code = pw.CharField(max_length=16, unique=True)
    token = pw.CharField(max_length=64, unique=True)
    url = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    joined_at = pw.DateTimeField(null=True)
    reinvited_at = pw.DateTimeField(null=True)  # a fresh invitation was queued for this expired one
    # when its email went out, copied from the delivery when retention deletes that row
    sent_at = pw.DateTimeField(null=True)


class OptOut(BaseModel):
    """A patient's opt-out of one channel (SPEC §10): clinicast's own record, which no
    directory import undoes. Active while `cleared_at` is empty."""

    patient = pw.ForeignKeyField(Patient, backref="opt_outs", on_delete="CASCADE")
    patient_id: int
    channel = pw.CharField(max_length=8)  # core.enums.OptOutChannel
    source = pw.CharField(max_length=8)  # core.enums.OptOutSource
    at = pw.DateTimeField(default=utcnow)  # when the patient opted out
    day = pw.DateField()  # that moment's day in the clinic's time zone (for the reason's words)
    recorded_by = pw.CharField(max_length=64, default="")  # a login, or "gateway"
    note = pw.TextField(default="")
    origin_key = pw.CharField(max_length=64, null=True, unique=True)  # the feed item it came from
    cleared_at = pw.DateTimeField(null=True)
    cleared_by = pw.CharField(max_length=64, default="")
    cleared_note = pw.TextField(default="")

    class Meta:
        indexes = ((("patient", "channel"), False),)


class UnsubscribeToken(BaseModel):
    """The personal token in a patient's unsubscribe link, one per patient and channel
    (at least 128 random bits: unguessable, so it is stored as is)."""

    patient = pw.ForeignKeyField(Patient, backref="unsubscribe_tokens", on_delete="CASCADE")
    patient_id: int
    channel = pw.CharField(max_length=8)
    token = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("patient", "channel"), True),)


class FeedItem(BaseModel):
    """An item of the gateway's opt-out feed already recorded (items may repeat)."""

    key = pw.CharField(max_length=64, unique=True)
    recorded_at = pw.DateTimeField(default=utcnow)


class AuditLog(BaseModel):
    at = pw.DateTimeField(default=utcnow, index=True)
    user = pw.CharField(max_length=64)
    action = pw.CharField(max_length=40)
    campaign = pw.IntegerField(null=True, index=True)  # plain id: audit outlives deletes
    detail = pw.TextField(default="")  # JSON
    # the hash chain (core/audit/chain.py): the row before's hash, and this row's over both
    prev_hash = pw.CharField(max_length=64, default="")
    hash = pw.CharField(max_length=64, default="")


class Heartbeat(BaseModel):
    """A live dispatcher (daemon or TUI with embedded scheduler)."""

    name = pw.CharField(max_length=120, unique=True)  # host:pid
    host = pw.CharField(max_length=120)
    pid = pw.IntegerField()
    role = pw.CharField(max_length=16)  # core.enums.Role
    version = pw.CharField(max_length=32)
    os_user = pw.CharField(max_length=64, default="")  # the login it runs as
    started_at = pw.DateTimeField(default=utcnow)
    beat_at = pw.DateTimeField(default=utcnow)


class ChannelHealth(BaseModel):
    """A channel ("email", "gateway") paused: its server refuses the clinic's setup (a
    token, a login, a sender, a certificate) or asks to slow down (core.channel_health).
    One row per channel that has a problem; none when every channel works."""

    channel = pw.CharField(max_length=16, primary_key=True)  # core.channel_health.CHANNELS
    problem = pw.CharField(max_length=32)  # core.channels.base.PROBLEMS
    detail = pw.TextField(default="")  # the server's own words
    since = pw.DateTimeField()  # first refused (kept while the same problem goes on)
    until = pw.DateTimeField()  # deliveries wait until then; then the channel is tried again
    noted_at = pw.DateTimeField()
    noted_by = pw.CharField(max_length=120, default="")  # the dispatcher that saw it


class EmailSlot(BaseModel):
    """One email handed to the relay, when `[email] max_per_minute` or `max_per_day` caps
    the pace: counted by every dispatcher together (core.pace)."""

    at = pw.DateTimeField(index=True)


class StaffPreference(BaseModel):
    """What a staff member chose for themselves in the TUI (core.preferences): their
    language ("" = the config's) and theme ("" = the default), kept per login."""

    login = pw.CharField(max_length=64, primary_key=True)
    language = pw.CharField(max_length=8, default="")
    theme = pw.CharField(max_length=64, default="")
    updated_at = pw.DateTimeField(default=utcnow)


# Indexes one database has and the models cannot declare for both (migration 0013):
# PostgreSQL's of `lower(practitioner)`, the expression conditions compare.
POSTGRESQL_ONLY_INDEXES = {"patient": ("patient_practitioner_lower",)}

ALL_MODELS: list[type[BaseModel]] = [
    Meta,
    Patient,
    Campaign,
    Template,
    Recipient,
    RecipientTally,
    RowCount,
    Delivery,
    Invitation,
    OptOut,
    UnsubscribeToken,
    FeedItem,
    AuditLog,
    Heartbeat,
    ChannelHealth,
    EmailSlot,
    StaffPreference,
]

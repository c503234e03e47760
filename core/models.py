"""Peewee models: fields, indexes, tiny properties — no workflows.

All timestamps are naive UTC datetimes; dates (window days, birth dates) are plain
dates in the clinic's time zone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import peewee as pw

database = pw.DatabaseProxy()

KINDS = ("invitation", "broadcast")
CHANNELS = {"invitation": "email", "broadcast": "app"}
LANGUAGES = ("fr", "en")

# recipient statuses (SPEC §4)
ASSIGNED, QUEUED, SENT, RETRYING, FAILED, SKIPPED, REMOVED = (
    "assigned",
    "queued",
    "sent",
    "retrying",
    "failed",
    "skipped",
    "removed",
)
RECIPIENT_STATUSES = (ASSIGNED, QUEUED, SENT, RETRYING, FAILED, SKIPPED, REMOVED)

# delivery kinds and statuses (outbox, SPEC §5)
D_EMAIL, D_PUSH, D_PUBLISH, D_UNPUBLISH, D_PUT, D_EXPIRE = ("email", "push", "publish", "unpublish", "put", "expire")
DELIVERY_KINDS = (D_EMAIL, D_PUSH, D_PUBLISH, D_UNPUBLISH, D_PUT, D_EXPIRE)
D_PENDING, D_SENDING, D_SENT, D_RETRYING, D_FAILED, D_SKIPPED, D_CANCELLED = (
    "pending",
    "sending",
    "sent",
    "retrying",
    "failed",
    "skipped",
    "cancelled",
)
DELIVERY_OPEN = (D_PENDING, D_SENDING, D_RETRYING)


def utcnow() -> datetime:
    """Naive UTC now, the form every DateTimeField stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_uuid() -> str:
    return str(uuid.uuid4())


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Meta(BaseModel):
    """Key/value facts about the database itself (schema version)."""

    key = pw.CharField(primary_key=True, max_length=64)
    value = pw.TextField()


class Patient(BaseModel):
    emr_id = pw.CharField(max_length=64, unique=True)
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
        return CHANNELS[self.kind]


class Template(BaseModel):
    campaign = pw.ForeignKeyField(Campaign, backref="templates", on_delete="CASCADE")
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
    patient = pw.ForeignKeyField(Patient, backref="recipients")
    status = pw.CharField(max_length=16, default=ASSIGNED)
    reason = pw.TextField(default="")
    added_at = pw.DateTimeField(default=utcnow)
    added_by = pw.CharField(max_length=64, default="")
    queued_at = pw.DateTimeField(null=True)
    sent_at = pw.DateTimeField(null=True)
    next_attempt_at = pw.DateTimeField(null=True)
    removed_at = pw.DateTimeField(null=True)
    in_feed = pw.BooleanField(default=False)  # a publish delivery was written for them

    class Meta:
        indexes = (
            (("campaign", "patient"), True),
            (("campaign", "status"), False),
        )


class Delivery(BaseModel):
    """One outgoing call, kept until it succeeds or is given up (the outbox)."""

    kind = pw.CharField(max_length=16)
    campaign = pw.ForeignKeyField(Campaign, backref="deliveries", on_delete="CASCADE")
    recipient = pw.ForeignKeyField(Recipient, null=True, backref="deliveries", on_delete="CASCADE")
    idempotency_key = pw.CharField(max_length=36, unique=True, default=new_uuid)
    status = pw.CharField(max_length=16, default=D_PENDING)
    due_at = pw.DateTimeField(default=utcnow)
    attempts = pw.IntegerField(default=0)
    claimed_by = pw.CharField(max_length=120, null=True)
    lease_until = pw.DateTimeField(null=True)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)
    content_version = pw.IntegerField(default=1)

    class Meta:
        indexes = (
            (("status", "due_at"), False),
            (("campaign", "kind", "status"), False),
        )


class Invitation(BaseModel):
    """The personal invitation carried by one email (created when the email is built)."""

    recipient = pw.ForeignKeyField(Recipient, backref="invitations", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, backref="invitations")
    campaign = pw.ForeignKeyField(Campaign, backref="invitations", on_delete="CASCADE")
    delivery = pw.ForeignKeyField(Delivery, unique=True, backref="invitation", on_delete="CASCADE")
    code = pw.CharField(max_length=16, unique=True)
    token = pw.CharField(max_length=64, unique=True)
    url = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    joined_at = pw.DateTimeField(null=True)


class AuditLog(BaseModel):
    at = pw.DateTimeField(default=utcnow, index=True)
    user = pw.CharField(max_length=64)
    action = pw.CharField(max_length=40)
    campaign = pw.IntegerField(null=True, index=True)  # plain id: audit outlives deletes
    detail = pw.TextField(default="")  # JSON


class Heartbeat(BaseModel):
    """A live dispatcher (daemon or TUI with embedded scheduler)."""

    name = pw.CharField(max_length=120, unique=True)  # host:pid
    host = pw.CharField(max_length=120)
    pid = pw.IntegerField()
    role = pw.CharField(max_length=16)  # "daemon" or "tui"
    version = pw.CharField(max_length=32)
    started_at = pw.DateTimeField(default=utcnow)
    beat_at = pw.DateTimeField(default=utcnow)


ALL_MODELS = [Meta, Patient, Campaign, Template, Recipient, Delivery, Invitation, AuditLog, Heartbeat]

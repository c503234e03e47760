"""Schema version 2: claim and hand-over tokens on deliveries (exactly once), reason
codes, EMR id keys, the opt-out ledger and unsubscribe tokens, test sends,
re-invitations, and the OS user of each dispatcher. Frozen: independent of core/models.py."""

import unicodedata

import peewee as pw

# the reason words version 1 stored, and the codes they became
_V1_REASONS = {
    "no app account": "no_app_account",
    "no marketing consent": "no_marketing_consent",
    "push notifications off (the message still shows in their feed)": "push_off",
    "do not contact": "do_not_contact",
    "already on the patient app": "already_on_app",
    "no email address": "no_email",
    "the broadcast window ended before sending": "window_ended",
    "unknown app account": "unknown_app_account",
    "recipient removed": "removed",
    "campaign or recipient deleted": "deleted",
}


EMPTY = [pw.SQL("DEFAULT ''")]
ZERO = [pw.SQL("DEFAULT 0")]


def _emr_key(emr_id):
    s = unicodedata.normalize("NFKC", emr_id)
    s = "".join(c for c in s if unicodedata.category(c)[0] != "C").strip().casefold()
    if s.isdigit() and s.isascii():
        s = s.lstrip("0") or "0"
    return s


def up(migrator, db):
    class Patient(pw.Model):
        emr_id = pw.CharField(max_length=64)
        emr_key = pw.CharField(max_length=64, null=True)

        class Meta:
            database = db
            table_name = "patient"

    class FeedItem(pw.Model):
        key = pw.CharField(unique=True, max_length=64)
        recorded_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "feed_item"

    class OptOut(pw.Model):
        patient = pw.ForeignKeyField(Patient, on_delete="CASCADE")
        channel = pw.CharField(max_length=8)
        source = pw.CharField(max_length=8)
        at = pw.DateTimeField()
        day = pw.DateField()
        recorded_by = pw.CharField(max_length=64, default="")
        note = pw.TextField(default="")
        origin_key = pw.CharField(unique=True, null=True, max_length=64)
        cleared_at = pw.DateTimeField(null=True)
        cleared_by = pw.CharField(max_length=64, default="")
        cleared_note = pw.TextField(default="")

        class Meta:
            database = db
            table_name = "opt_out"
            indexes = ((("patient", "channel"), False),)

    class UnsubscribeToken(pw.Model):
        patient = pw.ForeignKeyField(Patient, on_delete="CASCADE")
        channel = pw.CharField(max_length=8)
        token = pw.CharField(unique=True, max_length=64)
        created_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "unsubscribe_token"
            indexes = ((("patient", "channel"), True),)

    db.create_tables([FeedItem, OptOut, UnsubscribeToken])

    # new NOT NULL columns carry a database default: set-based INSERT ... SELECT statements
    # written for version 1 name only the columns they knew
    migrator.migrate(
        migrator.add_column("patient", "emr_key", pw.CharField(null=True, max_length=64)),
        migrator.add_column("recipient", "reason_code", pw.CharField(max_length=32, default="", constraints=EMPTY)),
        migrator.add_column("delivery", "outcomes_unknown", pw.IntegerField(default=0, constraints=ZERO)),
        migrator.add_column("delivery", "claim_token", pw.CharField(null=True, max_length=36)),
        migrator.add_column("delivery", "handed_token", pw.CharField(null=True, max_length=36)),
        migrator.add_column("delivery", "handed_at", pw.DateTimeField(null=True)),
        migrator.add_column("delivery", "error_code", pw.CharField(max_length=32, default="", constraints=EMPTY)),
        migrator.add_column("delivery", "patient_id", pw.ForeignKeyField(Patient, field=Patient.id, null=True)),
        migrator.add_column("delivery", "target", pw.TextField(default="", constraints=EMPTY)),
        migrator.add_column("delivery", "requested_by", pw.CharField(max_length=64, default="", constraints=EMPTY)),
        migrator.add_column("heartbeat", "os_user", pw.CharField(max_length=64, default="", constraints=EMPTY)),
        migrator.add_column("invitation", "reinvited_at", pw.DateTimeField(null=True)),
        migrator.add_index("delivery", ("claimed_by", "status")),
    )

    # every patient gets the key their id is compared by
    rows = list(Patient.select(Patient.id, Patient.emr_id).tuples())
    for pid, emr_id in rows:
        Patient.update(emr_key=_emr_key(emr_id)).where(Patient.id == pid).execute()
    migrator.migrate(migrator.add_index("patient", ("emr_key",), unique=True))

    class Recipient(pw.Model):
        reason = pw.TextField()
        reason_code = pw.CharField(max_length=32)

        class Meta:
            database = db
            table_name = "recipient"

    class Delivery(pw.Model):
        status = pw.CharField(max_length=16)
        last_error = pw.TextField()
        error_code = pw.CharField(max_length=32)
        lease_until = pw.DateTimeField(null=True)
        handed_at = pw.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "delivery"

    # version 1's reason words become codes; anything else was a server's message
    for words, code in _V1_REASONS.items():
        Recipient.update(reason_code=code).where(Recipient.reason == words).execute()
        Delivery.update(error_code=code).where(Delivery.last_error == words).execute()
    Recipient.update(reason_code="send_error").where(Recipient.reason != "", Recipient.reason_code == "").execute()
    Delivery.update(error_code="send_error").where(Delivery.last_error != "", Delivery.error_code == "").execute()
    # a row version 1 left sending was possibly in flight: count it as handed over
    Delivery.update(handed_at=Delivery.lease_until).where(Delivery.status == "sending").execute()

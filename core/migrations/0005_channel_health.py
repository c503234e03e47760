"""Schema version 5: the channels' health (a token, a login refused pause the channel,
not the patients) and the relay's pace (emails counted together by every dispatcher).

Recipients that 0.2.0 failed for the clinic's own setup — the gateway refusing the token
(401/403), the SMTP login or the sender refused, a certificate that did not verify — are
given back to the queue: their deliveries wait again with no attempt counted, so every
eligible patient gets their message once the setup is fixed, with no staff action.
Frozen: independent of core/models.py."""

from datetime import UTC, datetime

import peewee as pw

# what 0.2.0 wrote in last_error / reason for a refusal of the clinic's setup (its words)
SETUP_REFUSALS = (
    "%gateway answered http 401%",
    "%gateway answered http 403%",
    "%bearer token%",
    "%bad token%",
    "%unauthorized%",
    "%unauthorised%",
    "%forbidden%",
    "%smtp login as%refused%",
    "%smtp server refused the sender%",
    "%certificate verify failed%",
    "%certificate_verify_failed%",
)


def up(migrator, db):
    class ChannelHealth(pw.Model):
        channel = pw.CharField(max_length=16, primary_key=True)
        problem = pw.CharField(max_length=32)
        detail = pw.TextField(default="")
        since = pw.DateTimeField()
        until = pw.DateTimeField()
        noted_at = pw.DateTimeField()
        noted_by = pw.CharField(max_length=120, default="")

        class Meta:
            database = db
            table_name = "channel_health"

    class EmailSlot(pw.Model):
        at = pw.DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "email_slot"

    db.create_tables([ChannelHealth, EmailSlot])

    class Delivery(pw.Model):
        kind = pw.CharField(max_length=16)
        status = pw.CharField(max_length=16)
        recipient_id = pw.IntegerField(null=True)
        attempts = pw.IntegerField()
        due_at = pw.DateTimeField()
        last_error = pw.TextField()
        error_code = pw.CharField(max_length=32)

        class Meta:
            database = db
            table_name = "delivery"

    class Recipient(pw.Model):
        status = pw.CharField(max_length=16)
        reason = pw.TextField()
        reason_code = pw.CharField(max_length=32)
        next_attempt_at = pw.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "recipient"

    matches = None
    for pattern in SETUP_REFUSALS:
        m = Delivery.last_error**pattern  # case-insensitive LIKE (PostgreSQL ILIKE)
        matches = m if matches is None else (matches | m)
    failed = (Delivery.status == "failed") & (Delivery.error_code == "send_error") & matches
    rows = list(Delivery.select(Delivery.id, Delivery.kind, Delivery.recipient_id).where(failed).tuples())
    if not rows:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 500):
        Delivery.update(status="pending", attempts=0, due_at=now, last_error="", error_code="").where(
            Delivery.id.in_(ids[i : i + 500])
        ).execute()
    # their recipients wait again: queued for an email or a push (or a publish whose push
    # waits for it); a broadcast's recipient not started yet is assigned (its start queues it)
    pushing = {
        rid
        for (rid,) in Delivery.select(Delivery.recipient_id)
        .where(Delivery.kind == "push", Delivery.status.in_(("pending", "retrying")))
        .tuples()
    }
    queued = sorted({r[2] for r in rows if r[2] is not None and (r[1] != "publish" or r[2] in pushing)})
    assigned = sorted({r[2] for r in rows if r[2] is not None and r[1] == "publish" and r[2] not in pushing})
    for rids, status in ((queued, "queued"), (assigned, "assigned")):
        for i in range(0, len(rids), 500):
            Recipient.update(status=status, reason="", reason_code="", next_attempt_at=None).where(
                Recipient.id.in_(rids[i : i + 500]), Recipient.status == "failed"
            ).execute()

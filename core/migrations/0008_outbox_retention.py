"""Schema version 8: an invitation outlives its email's delivery row (issue #21, Law 25:
keep no more than needed). `invitation.delivery_id` may be empty, so outbox retention
(core.delivery.retention) can delete a finished invitation email older than
`[database] keep_deliveries_days` like any other row: the invitation keeps the patient's
code and link, and `invitation.sent_at` the one fact the funnel read from the deleted
row — that its email went out, and when. Frozen: independent of core/models.py."""

import peewee as pw


def up(migrator, db):
    migrator.migrate(
        migrator.drop_not_null("invitation", "delivery_id"),
        migrator.add_column("invitation", "sent_at", pw.DateTimeField(null=True)),
    )

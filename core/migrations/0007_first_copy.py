"""Schema version 7: the time of an email's first copy whose outcome was unknown (issue
#20): the connection dropped after the message went out and before the server's 250, a
second copy went through, and the patient may have it twice. The ledger says so with
both times: the first copy's (`recipient.first_copy_at`, kept from the delivery's
`first_unknown_at`, the hand-over that was never answered) and the second's `sent_at`.

A partial index holds the few recipients that have one, so `clinicast status` counts
them without reading the others. Recipients that earlier versions marked `maybe_twice`
keep no first time (it was not recorded): their ledger says so without it.
Frozen: independent of core/models.py."""

import peewee as pw

INDEX = "recipient_first_copy"


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("delivery", "first_unknown_at", pw.DateTimeField(null=True)),
        migrator.add_column("recipient", "first_copy_at", pw.DateTimeField(null=True)),
    )
    db.execute_sql(f"CREATE INDEX {INDEX} ON recipient (campaign_id) WHERE first_copy_at IS NOT NULL")

"""Schema version 10, PostgreSQL only: `delivery` and `recipient` pages keep room for
updates (fillfactor 70; issue #21, 5,000 pushes took 2 s of SQL there). A delivery row is
updated three times on its way out (claim, hand-over, result) and its recipient once or
twice; PostgreSQL writes each update as a new row version, and puts it in every index of
the table unless it fits on the same page and changes no indexed column (a HOT update:
the hand-over's `handed_token`, `handed_at`, `attempts`). Full pages (the default) left
no room, so the hand-over of 1,000 rows wrote a new entry in each of the outbox's eight
indexes for every row. Pages written from now on keep 30 % free; older pages are left as
they are. SQLite updates rows in place: nothing to do there. Frozen: independent of
core/models.py."""

import peewee as pw

FILLFACTOR = 70
TABLES = ("delivery", "recipient")


def up(migrator, db):
    if isinstance(db, pw.PostgresqlDatabase):
        for table in TABLES:
            db.execute_sql(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")

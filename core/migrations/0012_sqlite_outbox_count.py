"""Schema version 12, SQLite only: the outbox's number of rows kept in `row_count` there
too (issue #21: `clinicast status` counted a million delivery rows, 17-20 ms of a
command's 0.3 s, even from SQLite's smallest b-tree). Deliveries are written a campaign
at a time and deleted by retention in batches: a trigger a row costs ~1.5 µs each (a
start of 5,000 invitations, ~8 ms). Patients stay counted from their b-tree on SQLite:
a trigger a row would cost a million-patient import ~1.5 s. One row, updated in place
(SQLite has one writer at a time). PostgreSQL keeps it since 0011. Frozen:
independent of core/models.py."""

import peewee as pw

SQLITE = [
    """CREATE TRIGGER delivery_count_insert AFTER INSERT ON delivery BEGIN
        UPDATE row_count SET n = n + 1 WHERE name = 'delivery';
    END""",
    """CREATE TRIGGER delivery_count_delete AFTER DELETE ON delivery BEGIN
        UPDATE row_count SET n = n - 1 WHERE name = 'delivery';
    END""",
]


def up(migrator, db):
    if isinstance(db, pw.PostgresqlDatabase):
        return
    # one write transaction: nothing is added or deleted between the count and the triggers
    db.execute_sql("DELETE FROM row_count WHERE name = 'delivery'")
    db.execute_sql("INSERT INTO row_count (name, n) SELECT 'delivery', COUNT(*) FROM delivery")
    for statement in SQLITE:
        db.execute_sql(statement)

"""Schema version 9: a status change costs the database less (issue #21: 5,000 pushes
wrote each delivery and recipient row at a fraction of the gateway's pace).

- `delivery_claimed` replaces `delivery_claimed_by_status`: only the rows a dispatcher
  holds (`claimed_by` set) are in it, the only rows looked up by `claimed_by` (lease
  renewal, adoption). A claim adds its row instead of moving it; a result removes it
  instead of moving it again; finished rows are not in it at all.
- SQLite's recipient tally triggers (migration 0006) add to the pair's row first and
  make it only when there was none (`changes()` is the count of the statement before it
  in the same trigger), instead of looking for it twice: one search of the tally's
  index a change instead of two. The counts are the same; PostgreSQL's statement
  triggers are left as they are. Frozen: independent of core/models.py.
"""

import peewee as pw

OLD_INDEX = "delivery_claimed_by_status"
INDEX = "delivery_claimed"

SQLITE_TRIGGERS = [
    "DROP TRIGGER recipient_tally_insert",
    "DROP TRIGGER recipient_tally_update",
    """CREATE TRIGGER recipient_tally_insert AFTER INSERT ON recipient BEGIN
        UPDATE recipient_tally SET n = n + 1 WHERE campaign = NEW.campaign_id AND status = NEW.status;
        INSERT INTO recipient_tally (campaign, status, n) SELECT NEW.campaign_id, NEW.status, 1 WHERE changes() = 0;
    END""",
    """CREATE TRIGGER recipient_tally_update AFTER UPDATE OF status, campaign_id ON recipient
    WHEN OLD.status IS NOT NEW.status OR OLD.campaign_id IS NOT NEW.campaign_id BEGIN
        UPDATE recipient_tally SET n = n - 1 WHERE campaign = OLD.campaign_id AND status = OLD.status;
        UPDATE recipient_tally SET n = n + 1 WHERE campaign = NEW.campaign_id AND status = NEW.status;
        INSERT INTO recipient_tally (campaign, status, n) SELECT NEW.campaign_id, NEW.status, 1 WHERE changes() = 0;
    END""",
]


def up(migrator, db):
    db.execute_sql(f"DROP INDEX {OLD_INDEX}")
    db.execute_sql(f"CREATE INDEX {INDEX} ON delivery (claimed_by) WHERE claimed_by IS NOT NULL")
    if not isinstance(db, pw.PostgresqlDatabase):
        for statement in SQLITE_TRIGGERS:
            db.execute_sql(statement)

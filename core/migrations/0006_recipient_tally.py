"""Schema version 6: `recipient_tally`, each campaign's count of recipients by status,
kept by triggers on `recipient` in the transaction that changes it (issue #21: a list of
200 campaigns counted a million rows). Frozen: independent of core/models.py.

SQLite (one writer at a time) keeps one row a (campaign, status), updated in place by
row triggers. PostgreSQL adds one row a statement and pair, from the statement's
transition tables (many senders at once never wait on one row, nor deadlock on two);
`core.tally.fold` sums them back. Either way a count is SUM(n) over its rows.
"""

import peewee as pw

SQLITE = [
    # the pair's row, made at 0 when it is missing, then moved by one
    """CREATE TRIGGER recipient_tally_insert AFTER INSERT ON recipient BEGIN
        INSERT INTO recipient_tally (campaign, status, n)
            SELECT NEW.campaign_id, NEW.status, 0 WHERE NOT EXISTS
            (SELECT 1 FROM recipient_tally WHERE campaign = NEW.campaign_id AND status = NEW.status);
        UPDATE recipient_tally SET n = n + 1 WHERE campaign = NEW.campaign_id AND status = NEW.status;
    END""",
    """CREATE TRIGGER recipient_tally_update AFTER UPDATE OF status, campaign_id ON recipient
    WHEN OLD.status IS NOT NEW.status OR OLD.campaign_id IS NOT NEW.campaign_id BEGIN
        UPDATE recipient_tally SET n = n - 1 WHERE campaign = OLD.campaign_id AND status = OLD.status;
        INSERT INTO recipient_tally (campaign, status, n)
            SELECT NEW.campaign_id, NEW.status, 0 WHERE NOT EXISTS
            (SELECT 1 FROM recipient_tally WHERE campaign = NEW.campaign_id AND status = NEW.status);
        UPDATE recipient_tally SET n = n + 1 WHERE campaign = NEW.campaign_id AND status = NEW.status;
    END""",
    """CREATE TRIGGER recipient_tally_delete AFTER DELETE ON recipient BEGIN
        UPDATE recipient_tally SET n = n - 1 WHERE campaign = OLD.campaign_id AND status = OLD.status;
    END""",
    """CREATE TRIGGER recipient_tally_campaign_delete AFTER DELETE ON campaign BEGIN
        DELETE FROM recipient_tally WHERE campaign = OLD.id;
    END""",
]

POSTGRESQL = [
    """CREATE FUNCTION recipient_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO recipient_tally (campaign, status, n)
            SELECT campaign_id, status, COUNT(*) FROM new_rows GROUP BY campaign_id, status;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION recipient_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO recipient_tally (campaign, status, n)
            SELECT campaign_id, status, SUM(n) FROM (
                SELECT campaign_id, status, -1 AS n FROM old_rows
                UNION ALL SELECT campaign_id, status, 1 FROM new_rows
            ) AS moved GROUP BY campaign_id, status HAVING SUM(n) <> 0;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION recipient_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO recipient_tally (campaign, status, n)
            SELECT campaign_id, status, -COUNT(*) FROM old_rows GROUP BY campaign_id, status;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER recipient_tally_insert AFTER INSERT ON recipient REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recipient_tally_insert()""",
    """CREATE TRIGGER recipient_tally_update AFTER UPDATE ON recipient
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recipient_tally_update()""",
    """CREATE TRIGGER recipient_tally_delete AFTER DELETE ON recipient REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recipient_tally_delete()""",
]


def up(migrator, db):
    class RecipientTally(pw.Model):
        campaign = pw.IntegerField()
        status = pw.CharField(max_length=16)
        n = pw.IntegerField()

        class Meta:
            database = db
            table_name = "recipient_tally"
            indexes = ((("campaign", "status"), False),)

    db.create_tables([RecipientTally])
    pg = isinstance(db, pw.PostgresqlDatabase)
    if pg:  # no recipient changes between the counts so far and the triggers that keep them
        db.execute_sql("LOCK TABLE recipient IN SHARE ROW EXCLUSIVE MODE")
    db.execute_sql(
        "INSERT INTO recipient_tally (campaign, status, n)"
        " SELECT campaign_id, status, COUNT(*) FROM recipient GROUP BY campaign_id, status"
    )
    for statement in POSTGRESQL if pg else SQLITE:
        db.execute_sql(statement)

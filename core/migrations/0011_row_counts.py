"""Schema version 11: `row_count`, the number of rows of `patient` and `delivery` kept by
the database itself on PostgreSQL (issue #21: `clinicast status` counted a million
patients and a million outbox rows, 35-90 ms each, at every call). Frozen: independent
of core/models.py.

PostgreSQL must visit every row to count a table (each row's visibility is its own):
here each statement that inserts or deletes rows of those tables adds one row (table,
+/- how many) from its transition table, in its own transaction, as `recipient_tally`
does (migration 0006; many writers never wait on one row), and `core.tally.fold` sums
them back. A table's count is SUM(n) over its rows. An upsert counts only the rows it
inserted (PostgreSQL's INSERT transition table holds those; the updated ones are the
UPDATE's). SQLite counts a table from its smallest b-tree without reading a row, and a
trigger a row there would slow the import of a million patients by ~1.5 s: the table is
made there too, and stays empty.
"""

import peewee as pw

TABLES = ("patient", "delivery")

POSTGRESQL = [
    """CREATE FUNCTION row_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO row_count (name, n) SELECT TG_TABLE_NAME, COUNT(*) FROM new_rows HAVING COUNT(*) > 0;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION row_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO row_count (name, n) SELECT TG_TABLE_NAME, -COUNT(*) FROM old_rows HAVING COUNT(*) > 0;
        RETURN NULL;
    END $$""",
    # a TRUNCATE (which clinicast never runs) leaves nothing to count
    """CREATE FUNCTION row_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM row_count WHERE name = TG_TABLE_NAME;
        RETURN NULL;
    END $$""",
    *(
        statement
        for table in TABLES
        for statement in (
            f"""CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION row_count_insert()""",
            f"""CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION row_count_delete()""",
            f"""CREATE TRIGGER {table}_count_truncate AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION row_count_truncate()""",
        )
    ),
]


def up(migrator, db):
    class RowCount(pw.Model):
        name = pw.CharField(max_length=32)
        n = pw.BigIntegerField()

        class Meta:
            database = db
            table_name = "row_count"
            indexes = ((("name",), False),)

    db.create_tables([RowCount])
    if not isinstance(db, pw.PostgresqlDatabase):
        return
    # no row added or deleted between the counts so far and the triggers that keep them
    db.execute_sql(f"LOCK TABLE {', '.join(TABLES)} IN SHARE ROW EXCLUSIVE MODE")
    for table in TABLES:
        db.execute_sql(f"INSERT INTO row_count (name, n) SELECT '{table}', COUNT(*) FROM {table}")
    for statement in POSTGRESQL:
        db.execute_sql(statement)

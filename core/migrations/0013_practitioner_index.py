"""Schema version 13, PostgreSQL only: an index of the practitioner as conditions compare
it, `lower(practitioner)` (issue #21). "Patients of Dr X" is the condition a clinic picks
by most; without it PostgreSQL read every patient born in the range asked and kept the
doctor's (18,800 pages of a million-patient directory to find 4,522: 80-90 ms of an
assign). SQLite compares through clinicast's own Unicode `lower()` (core.db): an index
of that expression would be written wrong by any other program opening the file (the
`sqlite3` shell's `lower()` folds ASCII only), and SQLite's assign met its target
without it. Frozen: independent of core/models.py."""

import peewee as pw


def up(migrator, db):
    if not isinstance(db, pw.PostgresqlDatabase):
        return
    db.execute_sql("CREATE INDEX patient_practitioner_lower ON patient (lower(practitioner))")

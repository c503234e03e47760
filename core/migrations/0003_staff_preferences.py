"""Schema version 3: each staff member's own choices (language, theme), by login.
Frozen: independent of core/models.py."""

import datetime

import peewee as pw


def up(migrator, db):
    class StaffPreference(pw.Model):
        login = pw.CharField(max_length=64, primary_key=True)
        language = pw.CharField(max_length=8, default="")
        theme = pw.CharField(max_length=64, default="")
        updated_at = pw.DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "staff_preference"

    db.create_tables([StaffPreference])

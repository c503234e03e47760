"""Schema version 1, as it shipped: a frozen copy of the tables, independent of
core/models.py (which moves on). Never edit a migration that has shipped."""

import peewee as pw


def up(migrator, db):
    class AuditLog(pw.Model):
        at = pw.DateTimeField(index=True)
        user = pw.CharField(max_length=64)
        action = pw.CharField(max_length=40)
        campaign = pw.IntegerField(index=True, null=True)
        detail = pw.TextField(default="")

        class Meta:
            database = db
            table_name = "audit_log"

    db.create_tables([AuditLog])

    class Campaign(pw.Model):
        uuid = pw.CharField(unique=True, max_length=36)
        kind = pw.CharField(max_length=16)
        name = pw.CharField(max_length=120)
        starts_on = pw.DateField(null=True)
        ends_on = pw.DateField(null=True)
        archived = pw.BooleanField(index=True, default=False)
        created_at = pw.DateTimeField()
        created_by = pw.CharField(max_length=64)
        updated_at = pw.DateTimeField()
        first_started_at = pw.DateTimeField(null=True)
        last_started_at = pw.DateTimeField(null=True)
        content_version = pw.IntegerField(default=1)
        published_at = pw.DateTimeField(null=True)
        expired_at = pw.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "campaign"

    db.create_tables([Campaign])

    class Patient(pw.Model):
        emr_id = pw.CharField(unique=True, max_length=64)
        first_name = pw.CharField(max_length=120, default="")
        last_name = pw.CharField(max_length=120, default="")
        date_of_birth = pw.DateField(index=True, null=True)
        sex = pw.CharField(max_length=16, default="")
        language = pw.CharField(max_length=2, default="")
        email = pw.CharField(index=True, max_length=254, default="")
        phone = pw.CharField(max_length=40, default="")
        app_id = pw.CharField(index=True, null=True, max_length=64)
        marketing_consent = pw.BooleanField(default=False)
        push_enabled = pw.BooleanField(default=False)
        do_not_contact = pw.BooleanField(default=False)
        practitioner = pw.CharField(max_length=120, default="")
        postal_code = pw.CharField(max_length=16, default="")
        last_visit = pw.DateField(null=True)
        search_name = pw.CharField(index=True, max_length=250, default="")
        imported_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "patient"

    db.create_tables([Patient])

    class Recipient(pw.Model):
        campaign = pw.ForeignKeyField(Campaign, on_delete="CASCADE")
        patient = pw.ForeignKeyField(Patient)
        status = pw.CharField(max_length=16, default="assigned")
        reason = pw.TextField(default="")
        added_at = pw.DateTimeField()
        added_by = pw.CharField(max_length=64, default="")
        queued_at = pw.DateTimeField(null=True)
        sent_at = pw.DateTimeField(null=True)
        next_attempt_at = pw.DateTimeField(null=True)
        removed_at = pw.DateTimeField(null=True)
        in_feed = pw.BooleanField(default=False)

        class Meta:
            database = db
            table_name = "recipient"
            indexes = ((("campaign", "patient"), True), (("campaign", "status"), False))

    db.create_tables([Recipient])

    class Delivery(pw.Model):
        kind = pw.CharField(max_length=16)
        campaign = pw.ForeignKeyField(Campaign, on_delete="CASCADE")
        recipient = pw.ForeignKeyField(Recipient, null=True, on_delete="CASCADE")
        idempotency_key = pw.CharField(unique=True, max_length=36)
        status = pw.CharField(max_length=16, default="pending")
        due_at = pw.DateTimeField()
        attempts = pw.IntegerField(default=0)
        claimed_by = pw.CharField(null=True, max_length=120)
        lease_until = pw.DateTimeField(null=True)
        last_error = pw.TextField(default="")
        created_at = pw.DateTimeField()
        sent_at = pw.DateTimeField(null=True)
        content_version = pw.IntegerField(default=1)

        class Meta:
            database = db
            table_name = "delivery"
            indexes = ((("status", "due_at"), False), (("campaign", "kind", "status"), False))

    db.create_tables([Delivery])

    class Heartbeat(pw.Model):
        name = pw.CharField(unique=True, max_length=120)
        host = pw.CharField(max_length=120)
        pid = pw.IntegerField()
        role = pw.CharField(max_length=16)
        version = pw.CharField(max_length=32)
        started_at = pw.DateTimeField()
        beat_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "heartbeat"

    db.create_tables([Heartbeat])

    class Invitation(pw.Model):
        recipient = pw.ForeignKeyField(Recipient, on_delete="CASCADE")
        patient = pw.ForeignKeyField(Patient)
        campaign = pw.ForeignKeyField(Campaign, on_delete="CASCADE")
        delivery = pw.ForeignKeyField(Delivery, unique=True, on_delete="CASCADE")
        code = pw.CharField(unique=True, max_length=16)
        token = pw.CharField(unique=True, max_length=64)
        url = pw.TextField()
        created_at = pw.DateTimeField()
        expires_at = pw.DateTimeField()
        joined_at = pw.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "invitation"

    db.create_tables([Invitation])

    class Meta(pw.Model):
        key = pw.CharField(primary_key=True, max_length=64)
        value = pw.TextField()

        class Meta:
            database = db
            table_name = "meta"

    db.create_tables([Meta])

    class Template(pw.Model):
        campaign = pw.ForeignKeyField(Campaign, on_delete="CASCADE")
        language = pw.CharField(max_length=2)
        subject = pw.TextField(default="")
        title = pw.TextField(default="")
        body = pw.TextField(default="")
        push = pw.TextField(default="")
        updated_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "template"
            indexes = ((("campaign", "language"), True),)

    db.create_tables([Template])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("template"))
    migrator.migrate(migrator.drop_table("meta"))
    migrator.migrate(migrator.drop_table("invitation"))
    migrator.migrate(migrator.drop_table("heartbeat"))
    migrator.migrate(migrator.drop_table("delivery"))
    migrator.migrate(migrator.drop_table("recipient"))
    migrator.migrate(migrator.drop_table("patient"))
    migrator.migrate(migrator.drop_table("campaign"))
    migrator.migrate(migrator.drop_table("audit_log"))

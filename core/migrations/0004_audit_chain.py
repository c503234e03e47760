"""Schema version 4: the audit trail becomes a hash chain (issue #19, core/audit/chain.py).

Each row gets `prev_hash` (the hash of the row before it, by id) and `hash` (SHA-256
over prev_hash and the row's content); the rows written before this step are chained
here, oldest first. Frozen: its own copy of the hash, independent of core/ (which must
keep computing it the same way, or every row written before would read as changed)."""

import hashlib
import json

import peewee as pw

GENESIS = "0" * 64
EMPTY = [pw.SQL("DEFAULT ''")]


def _row_hash(prev_hash, at, user, action, campaign, detail):
    content = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), user, action, campaign, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def up(migrator, db):
    class AuditLog(pw.Model):
        at = pw.DateTimeField()
        user = pw.CharField(max_length=64)
        action = pw.CharField(max_length=40)
        campaign = pw.IntegerField(null=True)
        detail = pw.TextField(default="")
        prev_hash = pw.CharField(max_length=64, default="")
        hash = pw.CharField(max_length=64, default="")

        class Meta:
            database = db
            table_name = "audit_log"

    migrator.migrate(
        migrator.add_column("audit_log", "prev_hash", pw.CharField(max_length=64, default="", constraints=EMPTY)),
        migrator.add_column("audit_log", "hash", pw.CharField(max_length=64, default="", constraints=EMPTY)),
    )
    prev = GENESIS
    fields = (AuditLog.id, AuditLog.at, AuditLog.user, AuditLog.action, AuditLog.campaign, AuditLog.detail)
    for id_, at, user, action, campaign, detail in list(AuditLog.select(*fields).order_by(AuditLog.id).tuples()):
        h = _row_hash(prev, at, user, action, campaign, detail)
        AuditLog.update(prev_hash=prev, hash=h).where(AuditLog.id == id_).execute()
        prev = h

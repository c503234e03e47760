"""Each campaign's count of recipients by status, read from `recipient_tally` (kept by
the database's triggers, migration 0006) instead of counting a million recipient rows
(issue #21); and the number of outbox rows (and on PostgreSQL of patients) from
`row_count` (migrations 0011, 0012). `fold` sums PostgreSQL's added rows back into one a pair
(the scheduler's housekeeping); the counts read the same before and after."""

from __future__ import annotations

import peewee as pw

from core.db import is_postgres
from core.models import Campaign, RecipientTally, RowCount, database

# COUNT(*), not COUNT(id) nor peewee's count() of a subquery: an index alone answers it
# (SQLite's count of a b-tree, PostgreSQL's index-only scan), with no row read
COUNT_ALL = pw.fn.COUNT(pw.SQL("*"))


def counts(campaign_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """{campaign id: {status: n}} for these campaigns (every campaign when None); a
    status no recipient has is absent."""
    out: dict[int, dict[str, int]] = {i: {} for i in campaign_ids or ()}
    if campaign_ids is not None and not campaign_ids:
        return out
    q = RecipientTally.select(RecipientTally.campaign, RecipientTally.status, pw.fn.SUM(RecipientTally.n))
    if campaign_ids is not None:
        q = q.where(RecipientTally.campaign.in_(campaign_ids))
    for cid, status, n in q.group_by(RecipientTally.campaign, RecipientTally.status).tuples():
        if n:
            out.setdefault(cid, {})[status] = int(n)
    return out


def rows(model: type[pw.Model]) -> int:
    """The exact number of rows of `model`'s table (`patient` or `delivery`): the count
    the database keeps (PostgreSQL would read every row to count them; SQLite keeps the
    outbox's), else SQLite's count of the table's smallest b-tree (no row is read)."""
    table = model._meta.table_name
    if is_postgres() or table == "delivery":
        return int(RowCount.select(pw.fn.SUM(RowCount.n)).where(RowCount.name == table).scalar() or 0)
    return int(model.select(COUNT_ALL).scalar() or 0)


def fold() -> int:
    """One row a (campaign, status) again, none for a deleted campaign or a count of 0;
    the number of rows removed. Safe beside senders: on PostgreSQL only the rows this
    transaction sees are summed, and rows added meanwhile are left for the next fold."""
    t = RecipientTally._meta.table_name
    c = Campaign._meta.table_name
    with database.atomic():
        if is_postgres():
            before = RecipientTally.select().count()
            database.execute_sql(
                f"WITH moved AS (DELETE FROM {t} RETURNING campaign, status, n)"
                f" INSERT INTO {t} (campaign, status, n)"
                " SELECT campaign, status, SUM(n) FROM moved"
                f" WHERE EXISTS (SELECT 1 FROM {c} WHERE {c}.id = moved.campaign)"
                " GROUP BY campaign, status HAVING SUM(n) <> 0"
            )
            r = RowCount._meta.table_name
            database.execute_sql(
                f"WITH moved AS (DELETE FROM {r} RETURNING name, n)"
                f" INSERT INTO {r} (name, n) SELECT name, SUM(n) FROM moved GROUP BY name HAVING SUM(n) <> 0"
            )
            return before - RecipientTally.select().count()
        return (
            RecipientTally.delete()
            .where((RecipientTally.n == 0) | RecipientTally.campaign.not_in(Campaign.select(Campaign.id)))
            .execute()
        )

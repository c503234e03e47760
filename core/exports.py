"""A campaign's recipient ledger as CSV (`clinicast recipients list ID --csv`, and the
TUI's export), for a clinic's incident register. An export is a read of patient data:
audited."""

from __future__ import annotations

import csv
import io

from .audit_read import record_read
from .context import Ctx
from .enums import Permission

COLUMNS = ("emr_id", "name", "status", "reason", "reason_text", "added_at", "sent_at")


def _safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (a patient's name is data, not code)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def recipients_csv(ctx: Ctx, campaign_id, status: str | None = None) -> str:
    """Every recipient (or those of `status`): the columns of `recipients list --json`."""
    from .recipients import page

    ctx.require(Permission.CAMPAIGNS)
    rows = page(ctx, campaign_id, status=status, limit=None)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for r in rows:
        j = r.to_json()
        w.writerow([_safe(str(j[c] if j[c] is not None else "")) for c in COLUMNS])
    record_read(ctx, "export", int(campaign_id), what="recipients", status=status or "", rows=len(rows))
    return buf.getvalue()

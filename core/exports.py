"""A campaign's recipient ledger as CSV (`clinicast recipients list ID --csv`, and the
TUI's export), for a clinic's incident register. An export is a read of patient data:
audited."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from core.audit.read import record_read
from core.context import Ctx
from core.enums import Permission
from core.errors import BadInput

COLUMNS = ("emr_id", "name", "status", "reason", "reason_text", "added_at", "sent_at")


def _safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (a patient's name is data, not code)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def recipients_csv(ctx: Ctx, campaign_id, status: str | None = None) -> str:
    """Every recipient (or those of `status`): the columns of `recipients list --json`."""
    from core.recipients import page

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


def write_recipients_csv(ctx: Ctx, campaign_id, folder) -> Path:
    """The ledger written to a new file in `folder` (the TUI's export), readable by its
    owner only: it holds patients' names. Never overwrites a file."""
    import os
    from datetime import UTC

    text = recipients_csv(ctx, campaign_id)
    stamp = ctx.now().replace(tzinfo=UTC).astimezone(ctx.config.clinic.tz).strftime("%Y-%m-%d-%H%M%S")
    base = Path(folder) / f"campaign-{int(campaign_id)}-recipients-{stamp}"
    for n in range(100):
        path = base.with_name(base.name + (f"-{n}" if n else "") + ".csv")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as e:
            raise BadInput(f"cannot write {path}: {e.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write("\ufeff" + text)  # a BOM: spreadsheets then read the accents right
        return path
    raise BadInput(f"cannot write {base}.csv: too many exports with that name")

"""Unsaved edits kept as a draft (SPEC §13: a session ends with its connection, no edit
is ever lost): the template editor's text (each language's fields) and the new / edit
campaign form's. One small file per login, database, form and campaign, in the login's
own state folder (platformdirs' user_state_dir: ~/.local/state/clinicast/drafts), the
folder 0700 and the file 0600 — only that login reads it. A draft holds the text as
typed, when it was written and a fingerprint of what was saved then (so that the offer
says when someone saved since); never patient data. The TUI writes it when the session
ends with unsaved edits, offers it the next time that login opens the same form, and
deletes it once saved or discarded. It writes it while the staff member types, too (a
moment after the last key): a crash or `kill -9` ends a session with nothing run at its
end. A draft left longer than KEPT_DAYS is deleted the next time the drafts are read."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core import formats
from core.context import Ctx
from core.i18n import _

TEMPLATE = "template"  # the template editor's draft: {language: {field: text}}
CAMPAIGN = "campaign"  # the campaign form's: {"campaign": {field: text}}; campaign None: a new one
FORMS = (TEMPLATE, CAMPAIGN)
FOLDER_MODE = 0o700
FILE_MODE = 0o600
FORMAT = 1  # the file's layout; a file of another layout is ignored (never offered)
LIMIT = 1_000_000  # bytes: a bigger file is not a draft clinicast wrote
KEPT_DAYS = 30  # a draft nobody came back to in a month is forgotten (its file's mtime)
LEFTOVER_SECONDS = 3600  # a temporary file a killed write left: not another session's, by then
# the files clinicast writes here: a draft (login-database-form-campaign.json) or its
# temporary while being written (tempfile's suffix: a write killed half way leaves it)
_OURS = re.compile(
    r"(?P<temporary>\.)?[^./][^/]*-[0-9a-f]{12}-(?:template|campaign)-(?:new|\d+)\.json(?(temporary)\.\w+)"
)


Values = dict[str, dict[str, str]]  # a form's text by part (a language) and field


@dataclass(frozen=True)
class Draft:
    form: str  # TEMPLATE or CAMPAIGN
    campaign_id: int | None  # None: a new campaign's form
    written_at: datetime  # naive UTC, the session's clock
    values: Values  # the text as typed
    saved_then: str  # fingerprint of what was saved when the draft was written

    def saved_since(self, saved_now: Values) -> bool:
        """What is saved changed after the draft was written (someone saved)."""
        return fingerprint(saved_now) != self.saved_then


def fingerprint(values: Values) -> str:
    """A form's text as one short hash: compared, never read back."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def folder() -> Path:
    """Where this login's drafts live: its own state folder ($XDG_STATE_HOME or
    ~/.local/state), under clinicast/drafts."""
    import platformdirs

    return Path(platformdirs.user_state_dir("clinicast")) / "drafts"


def path(ctx: Ctx, form: str, campaign_id: int | None) -> Path:
    """This login's draft of `form` for `campaign_id` (None: a new campaign), in this
    database (two clinics' or the demo's campaign #3 are not the same campaign)."""
    if form not in FORMS:
        raise ValueError(f"form: expected one of {FORMS}, got {form!r}")
    database = hashlib.sha256(ctx.config.database.url.encode("utf-8")).hexdigest()[:12]
    which = "new" if campaign_id is None else str(int(campaign_id))
    return folder() / f"{ctx.user.login}-{database}-{form}-{which}.json"


def _private_folder(where: Path) -> None:
    """`where` and the clinicast folder above it made if missing, 0700; one that is not
    this login's, or not a folder, refuses (OSError): a draft is never written where
    another account could read it."""
    for part in (where.parent, where):
        with contextlib.suppress(FileExistsError):
            part.mkdir(mode=FOLDER_MODE, parents=True)
        st = os.lstat(part)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(errno.EACCES, f"{part} is not this login's folder")
    os.chmod(where, FOLDER_MODE)  # an older, looser folder is closed


def write(ctx: Ctx, form: str, campaign_id: int | None, values: Values, saved: Values) -> Path:
    """Keep `values` (the unsaved text) as this login's draft of `form` for
    `campaign_id`, `saved` being what was saved when the editing began; replaces an
    older draft, atomically (a file half written is never offered). Raises OSError."""
    target = path(ctx, form, campaign_id)
    _private_folder(target.parent)
    data = {
        "format": FORMAT,
        "form": form,
        "campaign": campaign_id,
        "written_at": ctx.now().isoformat(timespec="seconds"),
        "saved_then": fingerprint(saved),
        "values": values,
    }
    # a name of its own (two writes at once never share one), made 0600 by mkstemp
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temporary = Path(name)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


def read(ctx: Ctx, form: str, campaign_id: int | None) -> Draft | None:
    """This login's draft of `form` for `campaign_id`; None when there is none, or the
    file is not one clinicast wrote for it (unreadable, another layout, not this login's).
    Drafts older than KEPT_DAYS are deleted first (`expire`)."""
    target = path(ctx, form, campaign_id)
    expire(target.parent)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if os.fstat(f.fileno()).st_uid != os.geteuid():
                return None
            raw = f.read(LIMIT + 1)
        if len(raw) > LIMIT:
            return None
        data = json.loads(raw)
        values = data["values"]
        if (
            data.get("format") != FORMAT
            or data.get("form") != form
            or data.get("campaign") != campaign_id
            or not isinstance(values, dict)
        ):
            return None
        clean = {
            str(part): {str(k): str(v) for k, v in fields.items()}
            for part, fields in values.items()
            if isinstance(fields, dict)
        }
        return Draft(form, campaign_id, datetime.fromisoformat(data["written_at"]), clean, str(data["saved_then"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def expire(where: Path | None = None, now: float | None = None) -> None:
    """Delete, from this login's drafts folder, the drafts last written more than
    KEPT_DAYS ago and what a killed write left (a temporary file over an hour old). Only
    files clinicast writes, in a folder that is this login's; nothing else is touched."""
    where = folder() if where is None else where
    now = time.time() if now is None else now
    try:
        st = os.lstat(where)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return
        entries = list(os.scandir(where))
    except OSError:
        return
    for entry in entries:
        m = _OURS.fullmatch(entry.name)
        if m is None:
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            age = LEFTOVER_SECONDS if m.group("temporary") else KEPT_DAYS * 86400
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and now - st.st_mtime > age:
                os.unlink(entry.path)


def discard(ctx: Ctx, form: str, campaign_id: int | None) -> None:
    """Delete this login's draft of `form` for `campaign_id` (none: nothing to do)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path(ctx, form, campaign_id))


def offer(ctx: Ctx, draft: Draft, saved_now: Values) -> str:
    """The question the form asks: « Reprendre les modifications non enregistrées du
    7 déc. à 14:02 ? », and whether what it edits was saved by someone since."""
    tz = ctx.config.clinic.tz
    asked = _("Restore the unsaved changes from {day} at {time}?").format(
        day=formats.short_day(draft.written_at, tz, now=ctx.now()), time=formats.time(draft.written_at, tz)
    )
    if not draft.saved_since(saved_now):
        return asked
    if draft.form == TEMPLATE:
        return asked + " " + _("The saved template has changed since.")
    return asked + " " + _("The campaign's saved details have changed since.")

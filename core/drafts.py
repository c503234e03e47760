"""Unsaved template edits kept as a draft (SPEC §13: a session ends with its connection,
no edit is ever lost): one small file per login, database and campaign, in the login's
own state folder (platformdirs' user_state_dir: ~/.local/state/clinicast/drafts), the
folder 0700 and the file 0600 — only that login reads it. A draft holds the template's
text as typed (each language's fields), when it was written and a fingerprint of the
template saved then (so that the offer says when someone saved since); never patient
data. The TUI writes it when the session ends with unsaved edits, offers it the next
time that login opens the campaign's template, and deletes it once saved or discarded."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core import formats
from core.context import Ctx
from core.i18n import _

FOLDER_MODE = 0o700
FILE_MODE = 0o600
FORMAT = 1  # the file's layout; a file of another layout is ignored (never offered)
LIMIT = 1_000_000  # bytes: a bigger file is not a draft clinicast wrote


@dataclass(frozen=True)
class Draft:
    campaign_id: int
    written_at: datetime  # naive UTC, the session's clock
    templates: dict[str, dict[str, str]]  # language -> field -> text, as typed
    saved_then: str  # fingerprint of the template saved when the draft was written

    def saved_since(self, saved_now: dict[str, dict[str, str]]) -> bool:
        """The saved template changed after the draft was written (someone saved)."""
        return fingerprint(saved_now) != self.saved_then


def fingerprint(templates: dict[str, dict[str, str]]) -> str:
    """A template's text as one short hash: compared, never read back."""
    text = json.dumps(templates, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def folder() -> Path:
    """Where this login's drafts live: its own state folder ($XDG_STATE_HOME or
    ~/.local/state), under clinicast/drafts."""
    import platformdirs

    return Path(platformdirs.user_state_dir("clinicast")) / "drafts"


def path(ctx: Ctx, campaign_id: int) -> Path:
    """The draft of `campaign_id` for this login, in this database (two clinics' or the
    demo's campaign #3 are not the same campaign)."""
    database = hashlib.sha256(ctx.config.database.url.encode("utf-8")).hexdigest()[:12]
    return folder() / f"{ctx.user.login}-{database}-campaign-{campaign_id}.json"


def _private_folder(where: Path) -> None:
    """`where` and the clinicast folder above it made if missing, 0700; one that is not
    this login's, or not a folder, refuses (OSError): a draft is never written where
    another account could read it."""
    for part in (where.parent, where):
        with contextlib.suppress(FileExistsError):
            part.mkdir(mode=FOLDER_MODE, parents=True)
        st = os.lstat(part)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(f"{part} is not this login's folder")
    os.chmod(where, FOLDER_MODE)  # an older, looser folder is closed


def write(ctx: Ctx, campaign_id: int, templates: dict[str, dict[str, str]], saved: dict[str, dict[str, str]]) -> Path:
    """Keep `templates` (the unsaved text) as this login's draft of `campaign_id`,
    `saved` being the template as saved when the editing began; replaces an older
    draft, atomically (a file half written is never offered). Raises OSError."""
    target = path(ctx, campaign_id)
    _private_folder(target.parent)
    data = {
        "format": FORMAT,
        "campaign": campaign_id,
        "written_at": ctx.now().isoformat(timespec="seconds"),
        "saved_then": fingerprint(saved),
        "templates": templates,
    }
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
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


def read(ctx: Ctx, campaign_id: int) -> Draft | None:
    """This login's draft of `campaign_id`; None when there is none, or the file is not
    one clinicast wrote for it (unreadable, another layout, not this login's)."""
    target = path(ctx, campaign_id)
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
        templates = data["templates"]
        if data.get("format") != FORMAT or data.get("campaign") != campaign_id or not isinstance(templates, dict):
            return None
        clean = {
            str(lang): {str(k): str(v) for k, v in fields.items()}
            for lang, fields in templates.items()
            if isinstance(fields, dict)
        }
        return Draft(campaign_id, datetime.fromisoformat(data["written_at"]), clean, str(data["saved_then"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def discard(ctx: Ctx, campaign_id: int) -> None:
    """Delete this login's draft of `campaign_id` (none: nothing to do)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path(ctx, campaign_id))


def offer(ctx: Ctx, draft: Draft, saved_now: dict[str, dict[str, str]]) -> str:
    """The question the editor asks: « Reprendre les modifications non enregistrées du
    7 déc. à 14:02 ? », and whether the template was saved by someone since."""
    tz = ctx.config.clinic.tz
    asked = _("Restore the unsaved changes from {day} at {time}?").format(
        day=formats.short_day(draft.written_at, tz, now=ctx.now()), time=formats.time(draft.written_at, tz)
    )
    if draft.saved_since(saved_now):
        return asked + " " + _("The saved template has changed since.")
    return asked

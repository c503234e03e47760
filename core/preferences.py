"""A staff member's own choices, remembered by login (table staff_preference): the
language they switched to from the TUI's command palette, and the TUI's theme.

The language a person reads (SPEC §12): what they chose here, else `[users.LOGIN]
language`, else `[clinic] default_language` — decided for the TUI and every command
(its --help too) by `language_for`."""

from __future__ import annotations

from dataclasses import dataclass

from core.config.types import Config
from core.context import Ctx
from core.errors import BadInput
from core.i18n import LANGUAGES, _
from core.models import StaffPreference
from core.textcheck import quoted_value


@dataclass(frozen=True)
class Preferences:
    language: str = ""  # "" = the config's (configured_language)
    theme: str = ""  # "" = the TUI's default


def get(login: str) -> Preferences:
    """What `login` chose (empty fields when nothing); the database must be bound."""
    row = StaffPreference.get_or_none(StaffPreference.login == login)
    return Preferences(row.language, row.theme) if row else Preferences()


def _save(ctx: Ctx, **fields: str) -> None:
    fields_at = {**fields, "updated_at": ctx.now()}
    StaffPreference.insert(login=ctx.user.login, **fields_at).on_conflict(
        conflict_target=[StaffPreference.login], update=fields_at
    ).execute()


def set_language(ctx: Ctx, language: str) -> None:
    """Remember `language` for this staff member ("fr" or "en")."""
    if language not in LANGUAGES:
        raise BadInput(
            _("language: expected one of {choices}, got {value}").format(
                choices=", ".join(LANGUAGES), value=quoted_value(language)
            )
        )
    _save(ctx, language=language)


def set_theme(ctx: Ctx, theme: str) -> None:
    """Remember the TUI theme this staff member picked (a Textual theme name)."""
    if not theme or len(theme) > 64:
        raise BadInput(_("theme: expected a theme name of at most 64 characters"))
    _save(ctx, theme=theme)


def configured_language(config: Config, login: str) -> str:
    """`[users.LOGIN] language`, else `[clinic] default_language`."""
    user = config.users.get(login)
    return (user.language if user else "") or config.clinic.default_language


def language(config: Config, login: str, chosen: Preferences | None = None) -> str:
    """The language `login` reads: their own choice, else the config's."""
    return (chosen.language if chosen else "") or configured_language(config, login)


def language_of_file(explicit: str | None, login: str) -> str | None:
    """The config's language for `login`, read from the config file as written — before
    the file is validated, so that its own problems are reported in that language. None
    when the file says none: there is no file, it cannot be read (a folder, no read
    permission), or it names no language and has no [clinic] (an empty file)."""
    import tomllib

    from core import infile, tomlwords
    from core.config.load import discover

    try:  # with the config's bounds: a FIFO or a device refused unread (load() then says so)
        raw = infile.read_bytes(discover(explicit), limit=infile.CONFIG_LIMIT)
    except Exception:  # noqa: BLE001 - no file, unreadable: validation says so, in the host's language
        return None
    text = raw.removeprefix(tomlwords.BOM).decode("utf-8", "replace")
    try:
        data = tomllib.loads(text)
    except Exception:  # noqa: BLE001 - not TOML: its language lines, read one by one (fr-cli's)
        from core.config.load import language_lines

        return language_lines(text, login)
    users, clinic = data.get("users"), data.get("clinic")
    user = users.get(login) if isinstance(users, dict) else None
    for value in (
        user.get("language") if isinstance(user, dict) else None,
        clinic.get("default_language") if isinstance(clinic, dict) else None,
    ):
        if isinstance(value, str) and value in LANGUAGES:
            return value
    return "fr" if isinstance(clinic, dict) else None  # the schema's default_language


def host_language() -> str:
    """With no config to say it, the host's locale: French on a French system (LC_ALL,
    LC_MESSAGES, LANG as POSIX reads them; $LANGUAGE is core.i18n's own), else the
    i18n default."""
    import os

    from core import i18n

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "fr" if value.lower().startswith("fr") else i18n.DEFAULT
    return i18n.DEFAULT


SAVED_WAIT = 2.0  # seconds a command waits for its database to say a saved language


def saved_language(config: Config, login: str) -> str:
    """The language `login` chose from the palette, read from the database of `config`
    opened only to read (core.db.look: nothing created, nothing bound); "" when none."""
    from core import db as dbmod

    db = dbmod.look(config.database.url, config.database.group)
    try:
        query = StaffPreference.select(StaffPreference.language).where(StaffPreference.login == login)
        row = db.execute(query).fetchone()
    finally:
        db.close()
    return row[0] if row and row[0] in LANGUAGES else ""


@dataclass(frozen=True)
class Decided:
    """What `decide` read to choose a language: the config file loaded (None when it did
    not load) and the choice saved in its database (None when the database was not read,
    "" when it holds none) — so a command that goes on to use them reads neither again."""

    explicit: str | None
    login: str
    language: str
    config: Config | None = None
    saved: str | None = None


def decide(explicit: str | None, login: str) -> Decided:
    """The language `login` reads, as the TUI and the command line both decide it:

    1. their own choice, remembered from the TUI's palette (the database), when the
       config file loads and its database answers within SAVED_WAIT seconds;
    2. else the config file's ([users.LOGIN] language, else [clinic] default_language;
       as written, `language_of_file`, when the file does not load, so a broken file
       speaks it too);
    3. else the host's (`host_language`): no file, a file that cannot be read, or one
       that names no language — its problems are said in the reader's language.

    Never raises: `clinicast --help` works with a broken config or no database."""
    import threading

    from core.config.load import load

    try:
        config = load(explicit)
    except Exception:  # noqa: BLE001 - its problems are said later, in the file's language
        return Decided(explicit, login, language_of_file(explicit, login) or host_language())
    found: list[str] = []

    def read() -> None:
        try:
            found.append(saved_language(config, login))
        except Exception:  # noqa: BLE001 - no database, no table yet, unreachable: the config's
            pass

    reader = threading.Thread(target=read, name="clinicast-language", daemon=True)
    reader.start()
    reader.join(SAVED_WAIT)  # a PostgreSQL that does not answer never holds --help up
    saved = found[0] if found else None  # once: a late answer changes nothing decided here
    chosen = Preferences(language=saved) if saved is not None else None
    return Decided(explicit, login, language(config, login, chosen), config, saved)


def language_for(explicit: str | None, login: str) -> str:
    """The language `login` reads (`decide`)."""
    return decide(explicit, login).language


def speak_for(config: Config, login: str, *, database: bool = True, saved: str | None = None) -> str:
    """Switch this process to the language `login` reads (their choice in the database
    when `database` is bound — `saved`, when it was read already (`Decided.saved`) —
    else the config's) and return it."""
    from core import i18n

    chosen = None
    if database and saved is not None:
        chosen = Preferences(language=saved)
    elif database:
        try:
            chosen = get(login)
        except Exception:  # noqa: BLE001 - no table yet (init), unreachable: the config's language
            chosen = None
    lang = language(config, login, chosen)
    i18n.use(lang)
    return lang

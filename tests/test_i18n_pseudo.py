"""Nothing left behind (issue #17 item 3, SPEC §12): every screen rendered in a pseudo-locale
where each translated string reads ⟦…⟧; any word outside the wrappers that is not patient
or campaign data was never translated, and fails here. The scanning: tests/pseudo.py."""

from __future__ import annotations

import json
import re

import pytest
from pseudo import leak_report, leaks, outside, screen_lines, speaking_pseudo, wrap
from tui_helpers import (
    LOGIN,
    SCREENS,
    USER_NAME,
    app_for,
    go,
    make_world,
    snapshot_world,
    users_toml,
    write_config,
)

from core import context, i18n
from core.i18n import _, ngettext, pgettext
from core.models import AuditLog, Campaign, Patient, Template


class TestTheScanner:
    """The scanning function itself: it must see one unwrapped word among wrapped ones."""

    def test_wrapped_text_and_data_pass(self):
        text = "⟦Campaigns⟧ — Clinique du Parc · Marie Laval\n⟦{n} shown⟧ 12 / 1,234 → ✉ ● ⏎ esc ⟦Back⟧"
        assert leaks(text, ["Clinique du Parc", "Marie Laval"]) == []

    def test_one_unwrapped_word_fails(self):
        text = "⟦Campaigns⟧ — Clinique du Parc\nr Refresh  esc ⟦Back⟧"
        assert leaks(text, ["Clinique du Parc"]) == ["Refresh"]
        assert "r Refresh" in leak_report(text, ["Clinique du Parc"])

    def test_data_words_are_not_everything(self):
        """Data allows its own words, not English around them."""
        assert leaks("Sean Nadeau skipped", ["Sean Nadeau"]) == ["skipped"]

    def test_nested_folded_and_cut_wrappers(self):
        text = (
            "⟦Started: 5 ⟦invitation⟧ queued⟧\n"  # a translated piece inside a sentence
            "⟦A sentence folded by\nthe widget⟧ Gagnon\n"  # folded over two lines
            "⟦Last chan… 12:00 Invitati… ⟦Sta…\n"  # cells cut short
            "  Sent at"  # and this escapes
        )
        assert outside(text).split("\n")[2].strip() == "Gagnon"
        assert leaks(text, ["Invitation — patients du Dr Gagnon"]) == ["Sent", "at"]

    def test_an_identifier_allows_itself_not_its_words(self):
        """A template variable is shown as written; English around it is still found."""
        text = "patient.first_name   Patient's first name   ⟦e.g. {example}⟧"
        assert leaks(text, ["patient.first_name"]) == ["Patient", "first", "name"]
        assert leaks("patient.first_name", ["patient.first_name"]) == []
        body = "Bonjour {{ patient.first_name }}, {{ clinic.name }} vous invite"
        assert leaks("Bonjour Marie patient.first_name first name", [body, "Marie"]) == ["first", "name"]

    def test_month_names_and_keys(self):
        """core.formats shows the pseudo-locale as English: Babel's month names are not ours."""
        assert leaks("Jun 2, 2025, 12:00 · Sep 30 · ctrl+p f10 tab", []) == []


class TestThePseudoLocale:
    def test_every_msgid_is_wrapped(self, pseudo_locale):
        assert i18n.current() == "pseudo"
        assert _("commands") == "⟦commands⟧"
        assert ngettext("{n} patient", "{n} patients", 1).format(n=1) in ("1⟦ patient⟧", "1 patient")
        assert _("not a msgid, never extracted") == "not a msgid, never extracted"

    def test_a_value_put_in_stays_outside_the_wrappers(self, pseudo_locale):
        """A translated sentence wraps its own words only: an English value put into it
        (a template's problem once was, raw) is seen, not hidden inside the sentence."""
        said = _("{path}: {problem}").format(path="fr", problem="is empty")
        assert said == "fr⟦: ⟧is empty"
        assert leaks(said, ["fr"]) == ["is", "empty"]
        assert _("{path}: {problem}") == "{path}⟦: ⟧{problem}"
        assert wrap("carry {{ unsubscribe.url }}: every email") == "⟦carry {{ unsubscribe.url }}: every email⟧"
        assert wrap("%(name)s is %d {n:,}") == "%(name)s⟦ is ⟧%d⟦ ⟧{n:,}"

    def test_click_speaks_it_too(self, pseudo_locale):
        import gettext

        assert gettext.gettext("Usage:") == "⟦Usage:⟧"

    def test_language_restored(self, pseudo_localedir):
        i18n.use("fr")
        try:
            with speaking_pseudo(pseudo_localedir):
                assert i18n.current() == "pseudo"
                from core import preferences

                assert preferences.language(None, "x") == "pseudo"  # type: ignore[arg-type]
            assert i18n.current() == "fr"
        finally:
            i18n.use("en")

    def test_contexts_are_wrapped(self, pseudo_locale):
        assert pgettext("never", "there") == "there"  # unknown: as is


# --- every screen, rendered in the pseudo-locale ------------------------------------------

# Screens whose words are still being wrapped by the engineer who owns them (issue #17):
# each is a strict xfail, so it turns red the day it passes unnoticed — then remove it here.
# name -> who is wrapping it: fr-tui1 (campaign list, detail, template editor, sending,
# modals, keys, palette, problem screen, status line), fr-tui2 (recipients and their table,
# recipient detail, add patients, audit, opt-out, pickers), fr-core (core's statuses,
# reasons and messages), fr-cli (core/config's messages).
STILL_BEING_WRAPPED: dict[str, str] = {}  # every screen passes: add one here only while it is being wrapped


@pytest.fixture(scope="module")
def pseudo_world(tmp_path_factory):
    """One read-only world for every screen of this module (the screens only look: nothing
    asked is confirmed)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "login_name", lambda: LOGIN)
        return snapshot_world(tmp_path_factory.mktemp("pseudo"))


@pytest.fixture
def world(pseudo_world, monkeypatch):
    monkeypatch.setattr(context, "login_name", lambda: LOGIN)
    monkeypatch.chdir(pseudo_world.folder)
    return pseudo_world


def data_of(world, *typed: str) -> list[str]:
    """Every patient and campaign string the world holds, the clinic's and the staff's,
    its files' names and what the test typed: what the screens may show untranslated."""
    ctx = world.ctx
    config = ctx.config
    strings: list[str] = [*typed, str(world.folder), *config.users, config.clinic.name, config.clinic.address]
    from tui import keys  # the keys screen's binding ids: config key names, never translated

    strings += sorted(keys.binding_ids())
    from core.recipients.idlist import ID_COLUMNS  # a list's id column, as found in it
    from tui.preferences import LANGUAGE_NAMES  # each language named in its own (Français, English)

    strings += [*ID_COLUMNS, *LANGUAGE_NAMES.values()]
    strings += [u.name for u in config.users.values()]
    for p in Patient.select():
        strings += [p.emr_id, p.first_name, p.last_name, p.email, p.phone, p.practitioner, p.postal_code, p.sex]
    for c in Campaign.select():
        strings.append(c.name)
    for t in Template.select():
        strings += [t.subject, t.title, t.body, t.push]
    strings.append("exports")  # the folder the CSV tab starts in
    # the files the patients were imported from, as the audit trail's import rows name them
    strings += [str(json.loads(a.detail).get("file", "")) for a in AuditLog.select().where(AuditLog.action == "import")]
    for f in (world.folder / "exports").rglob("*"):
        strings.append(f.name)
        if f.is_file():
            strings.append(f.read_text(encoding="utf-8"))
    # the template language's variables (their names and examples, as patients read them)
    # and the month names of the patients' messages in the previews
    from babel import Locale

    from core.templating.variables import LANGUAGES, VARIABLES

    for v in VARIABLES:
        strings += [v.name, *(v.example_in(lang) for lang in LANGUAGES)]
    for lang in ("fr_CA", "en_CA"):
        strings += Locale.parse(lang).months["format"]["wide"].values()
    # what patients read, written by clinicast in their language: the default invitation
    # and the sender's identification every email ends with
    from core import identification
    from core.templating.defaults import DEFAULT_INVITATION

    strings += [text for fields in DEFAULT_INVITATION.values() for text in fields.values()]
    strings += [w for words in identification._WORDS.values() for w in words]
    return strings


def marked(names, size_ids=("120x40",)):
    """`names` as pytest params, each screen still being wrapped a strict xfail."""
    out = []
    for name in names:
        for size in size_ids:
            marks = []
            if name in STILL_BEING_WRAPPED:
                marks.append(pytest.mark.xfail(strict=True, reason=f"still being wrapped: {STILL_BEING_WRAPPED[name]}"))
            out.append(pytest.param(name, size, marks=marks, id=re.sub(r"\W+", "_", name).strip("_") + "-" + size))
    return out


SIZE_OF = {"120x40": (120, 40), "80x24": (80, 24)}
NARROW_TOO = {"campaign list", "recipients, sent invitation", "recipients, live broadcast"}


async def rendered(app, size, steps, delay) -> str:
    async with app.run_test(size=size) as pilot:
        await go(*steps, delay=delay, clear_notifications=False)(pilot)
        return screen_lines(app)


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "size"),
    marked([n for n in SCREENS if n not in NARROW_TOO]) + marked(sorted(NARROW_TOO), ("120x40", "80x24")),
)
async def test_every_screen_speaks_only_through_the_catalogue(world, pseudo_locale, name, size):
    steps, typed, delay = SCREENS[name]
    app = app_for(world)
    app.world = world
    text = await rendered(app, SIZE_OF[size], steps, delay)
    data = data_of(world, *typed)
    assert not leaks(text, data), f"{name}: {leak_report(text, data)}"
    assert "⟦" in text, f"{name}: nothing translated at all?\n{text}"


# the screens shown before any campaign: a config or a database that is not right
PROBLEMS = ["broken config", "database needs init", "no permission"]


def problem_app(name: str, folder):
    from tui.app import make_app

    if name == "broken config":
        (folder / "clinicast.toml").write_text(
            '[clinic]\nname = "Clinique"\ntimezone = "Mars/Olympus"\n[database]\n'
            'url = "mysql://x"\n[gateway]\ntransport = "pigeon"\n',
            encoding="utf-8",
        )
        data = ["Clinique", "Mars/Olympus", "mysql://x", "pigeon", "mysql", "Mars", "Olympus"]
        data += ["gateway.transport", "'http'", "'log'"]  # a key and its choices, as the file spells them
    elif name == "database needs init":
        write_config(folder)
        (folder / "clinicast.db").touch()  # made, never initialised
        data = ["Clinique du Parc", USER_NAME]
    else:
        make_world(folder, populate=False)
        write_config(folder, users=users_toml(login="jdoe", name="Jean Doe"))
        data = ["Jean Doe", "jdoe", "Clinique du Parc"]
    data += [str(folder), LOGIN, "clinicast.toml", "--config"]  # the command to run, as typed
    return make_app("clinicast.toml", scheduler=False, blink=False), data


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize(("name", "size"), marked(PROBLEMS))
async def test_problem_screens_speak_only_through_the_catalogue(tmp_path, monkeypatch, pseudo_locale, name, size):
    monkeypatch.setattr(context, "login_name", lambda: LOGIN)
    monkeypatch.chdir(tmp_path)
    app, data = problem_app(name, tmp_path)
    text = await rendered(app, SIZE_OF[size], (), 0.0)
    assert not leaks(text, data), f"{name}: {leak_report(text, data)}"
    assert "⟦" in text, f"{name}: nothing translated at all?\n{text}"


@pytest.mark.anyio
async def test_an_unwrapped_label_is_caught(world, pseudo_locale, monkeypatch):
    """The test can fail: a wrapped column header of the campaign list, replaced by a plain
    English string, is found on the rendered screen."""
    from textual.widgets import DataTable

    add_column = DataTable.add_column

    def plain(self, label, *a, **k):
        return add_column(self, "Plain words" if k.get("key") == "name" else label, *a, **k)

    monkeypatch.setattr(DataTable, "add_column", plain)
    app = app_for(world)
    app.world = world
    text = await rendered(app, (120, 40), (), 0.0)
    found = leaks(text, data_of(world))
    assert "Plain" in found and "words" in found, leak_report(text, data_of(world))

"""The staff's language in the TUI (SPEC §12, issue #17 item 2): switched from the command
palette for the whole session at once (titles, footer, tables, status line of every
screen in the stack), remembered for that login only; and the config's `[keys]`
re-applied when the config file changes under an open TUI (issue #18). Pilot, keyboard
only; the language comes back to English after each test (conftest)."""

from __future__ import annotations

import pytest
from tui_helpers import LOGIN, app_for, copy_world, make_world, screen_text, settle, users_toml, wait_for

from core import context, i18n, preferences
from core.models import StaffPreference
from tui.screens.campaign_detail import CampaignDetailScreen
from tui.screens.campaign_list import CampaignListScreen

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def base_world(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "login_name", lambda: LOGIN)
        return make_world(tmp_path_factory.mktemp("language"), n_patients=30)


@pytest.fixture
def world(base_world, tmp_path, as_mlaval):
    w = copy_world(base_world, tmp_path / "w")
    text = w.config_path.read_text(encoding="utf-8")
    # a second staff member, English too, on the same database
    w.config_path.write_text(text + "\n" + users_toml(login="jdoe", name="Jean Doe"), encoding="utf-8")
    return w


def rendered(static, width: int = 76) -> str:
    """What a Static holding a Rich table shows, as text."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(static.content)
    return console.export_text()


def footer_words(app) -> list[str]:
    from textual.widgets._footer import FooterKey

    return [k.description for k in app.screen.query(FooterKey)]


async def palette(pilot, query: str) -> list[str]:
    """The names the command palette offers for `query` (the palette left open)."""
    from textual.command import CommandList

    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*query)
    app = pilot.app

    def names() -> list[str]:
        found = app.screen.query(CommandList)
        return [str(o.prompt).split("\n")[0] for o in found.first().options] if found else []

    await wait_for(pilot, lambda: any("Français" in n or "English" in n for n in names()), timeout=5)
    return names()


async def switch_from_palette(pilot, query: str) -> None:
    await palette(pilot, query)
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("query", ["fran", "lang", "langue", "English", "anglais"])
async def test_the_palette_finds_the_language_switch(world, query):
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        names = await palette(pilot, query)
        assert any(n.startswith("Language: ") for n in names), names
        if query in ("English", "anglais"):
            assert "Language: English" in names[0]
        if query == "fran":
            assert "Language: Français" in names[0]


async def test_switch_to_french_redraws_every_screen_and_is_remembered_for_this_login(world):
    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.title == "Campaigns" and "New" in footer_words(app)
        await pilot.press("n")  # a second screen on the stack: it is redrawn too
        await settle(pilot)
        assert isinstance(app.screen, CampaignDetailScreen)
        await switch_from_palette(pilot, "fran")
        assert i18n.current() == "fr"
        assert app.screen.title == "Nouvelle campagne"
        assert "Enregistrer" in footer_words(app) and "Save" not in footer_words(app)
        text = screen_text(app)
        assert "Nom" in text.splitlines() and "Canal" in text.splitlines() and "f10 quitter" in text
        assert str(app.screen.query_one("#cancel").label) == "Annuler"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen)
        assert app.screen.title == "Campagnes" and "Nouvelle" in footer_words(app)
        table = app.screen.query_one("DataTable")
        assert [str(c.label) for c in table.columns.values()][:2] == ["Nom", "Type"]
        # remembered for this login, in the database
        assert await wait_for(pilot, lambda: preferences.get(LOGIN).language == "fr")
    assert StaffPreference.get(StaffPreference.login == LOGIN).language == "fr"

    i18n.use("en")  # a new process starts in the default; the app speaks for its user
    again = app_for(world)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert i18n.current() == "fr"
        assert again.screen.title == "Campagnes" and "Nouvelle" in footer_words(again)


async def test_another_login_is_not_affected(world, monkeypatch):
    preferences.set_language(world.ctx, "fr")  # mlaval chose French
    monkeypatch.setattr(context, "login_name", lambda: "jdoe")
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert i18n.current() == "en"
        assert app.screen.title == "Campaigns" and "New" in footer_words(app)


async def test_switch_back_to_english_and_the_keys_screen_follows(world):
    preferences.set_language(world.ctx, "fr")
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.title == "Campagnes"
        await pilot.press("question_mark")
        await settle(pilot)
        keys = rendered(app.screen.query_one("#keys-table"))
        assert "Nouvelle" in keys
        # the keys by the names a French keyboard gives them, in the table and the footer
        assert "échap" in keys and "pg suiv" in keys and "esc" not in keys and "pgdn" not in keys, keys
        assert "échap" in " ".join(k.key_display for k in app.screen.query("FooterKey"))
        await switch_from_palette(pilot, "anglais")
        assert i18n.current() == "en"
        keys = rendered(app.screen.query_one("#keys-table"))
        assert "New" in keys and "esc" in keys and "échap" not in keys
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.title == "Campaigns" and "New" in footer_words(app)
    assert preferences.get(LOGIN).language == "en"


async def test_keys_rebound_in_the_config_apply_when_it_changes(world):
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = world.config_path.read_text(encoding="utf-8")
        world.config_path.write_text(text + '\n[keys]\n"campaigns.new" = "N"\n', encoding="utf-8")
        app._tick()
        await settle(pilot)
        assert app.ctx.config.keys == {"campaigns.new": "N"}
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen)
        await pilot.press("N")
        await settle(pilot)
        assert isinstance(app.screen, CampaignDetailScreen)
        await pilot.press("escape")
        await settle(pilot)
        # taken out of the config again: the default key is back
        world.config_path.write_text(text, encoding="utf-8")
        app._tick()
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, CampaignDetailScreen)


async def test_the_palette_says_it_found_nothing_in_french(world):
    """Textual writes "No matches found" itself (tui.commands.Palette translates it)."""
    from textual.command import CommandList

    preferences.set_language(world.ctx, "fr")
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"zqxw")

        def said() -> list[str]:
            found = app.screen.query(CommandList)
            return [str(o.prompt) for o in found.first().options] if found else []

        await wait_for(pilot, lambda: len(said()) == 1, timeout=5)
        await settle(pilot)
        text = screen_text(app)  # what is drawn
        assert "Aucune commande trouvée" in text and "No matches" not in text, text


async def test_the_palette_lists_its_commands_in_one_order(world):
    """One provider: the screen's commands, the language switch, then Textual's, in the
    order they are made — never in the order two providers happened to answer (which the
    snapshots of the open palette could not picture)."""
    from textual.command import CommandList

    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        expected = [name for name, _help, _callback in screen.palette_commands()]
        expected += [name for name, *_more in app.language_commands()]
        expected += [c.title for c in app.get_system_commands(screen) if c.discover]
        await pilot.press("ctrl+p")
        await settle(pilot, 0.4)
        names = [str(o.prompt).split("\n")[0] for o in app.screen.query_one(CommandList).options]
    assert names == expected


def dialog_words(app) -> str:
    """What the open dialog says: its title, its message, its buttons."""
    from textual.widgets import Button, Static

    screen = app.screen
    box = screen.query_one(".dialog")
    message = "\n".join(str(s.content) for s in screen.query(Static).filter(".message"))
    return "\n".join([str(box.border_title), message, *(str(b.label) for b in screen.query(Button))])


def footer_says_the_buttons(dialog) -> str:
    """The footer's keys of a confirmation say its buttons' words (not "y Yes" beside a
    button "Remove"): the yes button's label, checked against the footer as drawn."""
    from textual.widgets import Button
    from textual.widgets._footer import FooterKey

    keys = {k.key: k.description for k in dialog.query(FooterKey)}
    buttons = {b.id: str(b.label) for b in dialog.query(Button)}
    assert keys == {"y": buttons["yes"], "n": buttons["no"]}, (keys, buttons)
    return buttons["yes"]


@pytest.mark.parametrize(
    ("campaign", "keys", "french", "english"),
    [
        (None, ("n", "tab", *"Rappel", "escape"), "Abandonner", "Discard"),  # unsaved changes
        ("broadcast_live", ("s",), "Démarrer", "Start"),  # start confirmation
        ("broadcast_live", ("down", "x"), "Retirer", "Remove"),  # removal (core's words on the patient, read again)
    ],
    ids=["unsaved", "start", "remove"],
)
async def test_an_open_confirmation_speaks_the_language_switched_to(world, campaign, keys, french, english):
    """A dialog open when the language switches is redrawn in it (issue #17): its title, its
    message (the core's words too) and its buttons — the same dialog, still waiting."""
    from tui.screens.modals import ConfirmModal

    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        if campaign:
            screen.query_one("DataTable").move_cursor(row=screen._order.index(getattr(world.campaigns, campaign)))
            await pilot.press("enter")
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmModal), [n.message for n in app._notifications]
        before = dialog_words(app)
        assert english in before, before
        assert english in footer_says_the_buttons(dialog)
        await switch_from_palette(pilot, "fran")
        assert app.screen is dialog
        after = dialog_words(app)
        assert french in after and english not in after, after
        await settle(pilot)
        assert french in footer_says_the_buttons(dialog)
        from test_i18n_cli import english_in

        assert not english_in(after, ["Nouvelle médecin : Dre Girard", "EMR"]), after


@pytest.mark.parametrize(
    ("language", "short", "full"),
    [
        ("en", "sending: this session", "deliveries: sent by this session (embedded, running)"),
        ("fr", "envoi\u00a0: cette session", "envois\u00a0: faits par cette session (intégré, en marche)"),
    ],
)
async def test_the_status_line_takes_one_line_at_80_columns_with_the_embedded_scheduler(
    tmp_path, as_mlaval, language, short, full
):
    """Issue #18: who sends, in short where the full words would take a second line; in
    full where they fit (120 columns) — in both languages."""
    from tui_helpers import write_config

    from core.models import utcnow
    from tui.widgets.status_line import StatusLine

    w = make_world(tmp_path / "w", n_patients=30, embedded="always", clock=utcnow)
    write_config(w.folder, embedded="always", users=users_toml(language=language))
    for size, said in (((80, 24), short), ((120, 40), full)):
        app = app_for(w, scheduler=None)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            assert await wait_for(pilot, lambda app=app: app.scheduler is not None and app.scheduler_ok)
            await settle(pilot)
            line = app.screen.query_one(StatusLine)
            who = line.query_one("#status-who")
            shown = " ".join(
                "".join(seg.text for seg in strip) for strip in who.render_lines(who.region.reset_offset)
            ).split()
            assert line.region.height == 1, shown
            assert said in " ".join(shown).replace(" :", "\u00a0:"), shown


def test_the_comparators_a_condition_offers_are_in_french():
    """Found in tmux: the comparator menu offered « est (=) » then "is empty", "is not
    empty" (a word-operator was shown as its code)."""
    from tui.widgets.condition_row import ConditionRow

    i18n.use("fr")
    labels = [label for label, _code in ConditionRow._op_options("language")]
    assert "est vide" in labels and "n'est pas vide" in labels, labels
    assert not any("empty" in label or "starts" in label for label in labels), labels
    assert [code for _label, code in ConditionRow._op_options("language")][-1] == "is not empty"


def test_clauses_are_joined_as_french_writes_them():
    """Found in tmux: « 23 ajoutés; 48 exclus » — a semicolon with no space before it in
    French (core.i18n.clauses: a narrow no-break space, as the catalogue's typography)."""
    from core.recipients.results import AssignResult
    from tui.screens.recipient_flows import assign_message

    result = AssignResult(added=23, skipped=48, skipped_reasons={"no_email": 48}, skipped_added={"no_email": 48})
    i18n.use("fr")
    assert assign_message(result).startswith("23 ajoutés\u202f; 48 ajoutés comme écartés"), assign_message(result)
    i18n.use("en")
    assert assign_message(result).startswith("23 added; 48 added as skipped"), assign_message(result)


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_the_csv_field_says_what_it_takes_whole_at_80_columns(world, language):
    """Found in tmux: the CSV tab's placeholder cut at 80 columns (« …, ou collez »)."""
    from rich.text import Text
    from textual.widgets import Input

    preferences.set_language(world.ctx, language)
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("DataTable").move_cursor(row=screen._order.index(world.campaigns.invitation_draft))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        field = app.screen.query_one("#csv-path", Input)
        assert Text(field.placeholder).cell_len <= field.content_region.width, (field.placeholder, field.content_region)


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_the_recipient_table_s_note_is_whole_at_80_columns(tmp_path, as_mlaval, language):
    """Found in tmux: « 100 affichés · entrée : tout sur le destinataire choisi · suite plus
    bas (fai… » — the note under a table with more rows below, cut (in English too)."""
    from rich.text import Text
    from textual.widgets import Static
    from tui_helpers import write_config

    from core import demo, recipients

    w = make_world(tmp_path / "w", n_patients=150)
    write_config(w.folder, users=users_toml(language=language))
    recipients.assign_conditions(w.ctx, w.campaigns.invitation_draft, [demo.where("age >= 0")])
    app = app_for(w)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("DataTable").move_cursor(row=screen._order.index(w.campaigns.invitation_draft))
        await pilot.press("enter")
        await settle(pilot)
        note = app.screen.query_one("#table-note", Static)
        said = str(note.content)
        assert app.screen.table.more and ("more below" in said or "suite plus bas" in said), said
        assert Text(said).cell_len <= note.content_region.width, said


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_the_campaign_s_two_lines_are_whole_at_80_columns(tmp_path, as_mlaval, language):
    """Found in tmux: « envoyé 94 · écarté 106   invités 94, inscrits 0, expirés 0
    modifiée 6 déc. … » — the campaign's counts grew past 80 columns; when-changed goes
    to the first line, which has room."""
    from tui_helpers import write_config

    from core import demo, recipients

    w = make_world(tmp_path / "w", n_patients=150)
    write_config(w.folder, users=users_toml(language=language))
    cid = w.campaigns.invitation_draft
    recipients.assign_conditions(w.ctx, cid, [demo.where("age >= 0")])
    recipients.start(w.ctx, cid)
    demo.send_due(w.ctx)
    app = app_for(w)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("DataTable").move_cursor(row=screen._order.index(cid))
        await settle(pilot)
        detail = screen.query_one("#campaign-detail")
        shown = ["".join(seg.text for seg in strip) for strip in detail.render_lines(detail.region.reset_offset)]
        text = "\n".join(shown)
        assert "…" not in text and ("changed" in text or "modifiée" in text), text
        assert "invited" in text or "invités" in text, text

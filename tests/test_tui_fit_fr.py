"""Nothing a receptionist needs is cut at 80×24 in French (a review of `clinicast demo`
under LANG=fr_CA.UTF-8): the footer's keys are whole and the help key says how many
more there are, a count keeps its number, the search box says its keys, a recipient's
whole reason is one key away. Read on the screen as drawn (its compositor's lines)."""

from __future__ import annotations

import re

import pytest
from pseudo import screen_lines
from tui_helpers import (
    app_for,
    campaign_open,
    copy_world,
    module_world,
    open_add,
    rendered,
    select,
    settle,
    users_toml,
    write_config,
)

from core import i18n, recipients
from core.rules import FEED_ONLY
from tui.screens.keys import KeysScreen
from tui.screens.recipient_detail import RecipientDetailModal
from tui.widgets.footer import HelpKey, KeysFooter

pytestmark = pytest.mark.anyio

base_world = module_world("fit_fr", n_patients=60)


@pytest.fixture
def world(base_world, tmp_path, as_mlaval):
    world = copy_world(base_world, tmp_path / "w")
    write_config(world.folder, users=users_toml(language="fr"))
    yield world
    i18n.use("en")


def drawn(app) -> list[str]:
    """The screen's lines as drawn, the screen below a dialog included."""
    return screen_lines(app, background=True).split("\n")


def footer_line(app) -> str:
    return drawn(app)[app.size.height - 1]


def shown_actions(screen) -> list[str]:
    """The actions the screen's bindings would show in a footer, once each."""
    out: list[str] = []
    for a in screen.active_bindings.values():
        if a.binding.show and a.binding.action not in out and a.binding.action != "app.command_palette":
            out.append(a.binding.action)
    return out


def check_footer(app) -> tuple[list[str], str]:
    """The footer's keys are drawn whole, in order, from its left edge; the ones left out
    are said by the help key at the right (« ? +7 touches »). Returns the keys drawn and
    the help key's words."""
    from textual.widgets._footer import FooterKey

    screen = app.screen
    footer = screen.query_one(KeysFooter)
    keys = [k for k in footer.query(FooterKey) if "-palette" not in k.classes]
    words = [f"{k.key_display} {k.description}" for k in keys]
    line = footer_line(app)
    assert line.startswith(" ".join(words)), (line, words)
    assert all(k.region.right <= app.size.width for k in keys), line
    helps = list(footer.query(HelpKey))
    rest = line[len(" ".join(words)) :]
    left_out = len(shown_actions(screen)) - len(keys)
    if helps:
        help_words = f"{helps[0].key_display} {helps[0].description}"
        assert re.fullmatch(rf"\s*▏ {re.escape(help_words)}(\s*▏ \^p palette)?", rest), (line, help_words)
    else:
        assert not rest.strip(), line  # nothing cut after the last key
        help_words = ""
    if left_out:
        assert help_words.endswith(f"+{left_out} touches" if left_out > 1 else f"+{left_out} touche"), line
    return words, help_words


class TestFooter:
    async def test_the_recipients_keys_are_whole_and_the_help_key_counts_the_others(self, world):
        """Was « … o Retrait / Chercher E »: t, e, r and « Exporter » never showed; then
        « ⏎ Détail … x Retirer ? +8 touches », search and opt-out behind `?`."""
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            words, help_words = check_footer(app)
            # the most needed first (RecipientsScreen.FOOTER_ORDER)
            assert words == ["/ Chercher", "o Désabonner", "a Ajouter", "x Retirer", "s Démarrer", "S Arrêter"]
            assert help_words.startswith("? +")
            await pilot.press("question_mark")  # the key it names opens the list of them all
            await settle(pilot)
            assert isinstance(app.screen, KeysScreen)
            listed = rendered(app.screen.query_one("#keys-table"), width=96)
            for what in ("Exporter", "Modèle", "Modifier", "Actualiser"):
                assert what in listed, listed

    async def test_in_the_search_box_the_help_key_is_f1(self, world):
        """`?` is a letter in a text field: the footer names f1 there, and f1 works."""
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            await pilot.press("slash")
            await settle(pilot)
            _words, help_words = check_footer(app)
            assert help_words == "f1 Touches"
            await pilot.press("f1")
            await settle(pilot)
            assert isinstance(app.screen, KeysScreen)

    async def test_the_template_editor_s_formatting_keys_are_never_cut(self, world):
        """Was « … ^g Gras ^t Itali »."""
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, world.campaigns.broadcast_live)
            await pilot.press("t")
            await settle(pilot, 0.35)
            words, help_words = check_footer(app)
            assert "^o Enregistrer" in words and help_words.startswith("f1 +")  # the body's text area has focus

    async def test_the_add_patients_dialog_s_keys_and_its_help_key(self, world):
        """Was « … f3 Conditions f4 C », in a dialog where `?` did nothing (a modal screen
        keeps the app's keys from its own): f1 opens the keys. Then « échap Fermer … f3
        Conditions ? +2 touches » on the conditions tab: f4 left out for f3, the tab shown."""
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            modal = await open_add(pilot, "tab-conditions")
            await modal.action_add_row()
            await settle(pilot)
            words, help_words = check_footer(app)
            assert words == ["^o Ajouter", "f2 Un patient", "f4 CSV", "^n Nouvelle condition", "échap Fermer"]
            key = help_words.split()[0]
            await pilot.press("question_mark" if key == "?" else key)
            await settle(pilot)
            assert isinstance(app.screen, KeysScreen)
            assert "CSV" in rendered(app.screen.query_one("#keys-table"), width=96)  # f4 listed

    async def test_a_confirmation_shows_the_help_key(self, world):
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            await pilot.press("x")
            await settle(pilot)
            words, help_words = check_footer(app)
            assert help_words == "? Touches" and words[0].startswith("o ")
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, KeysScreen)

    async def test_where_every_key_fits_the_status_line_says_the_help_key(self, world):
        """The campaign list: seven keys, the archive key last (TestArchive in
        test_tui_staff), and `? touches` in the status line above."""
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            words, help_words = check_footer(app)
            assert words[-1] == "A Archiver" and help_words == ""
            assert "? touches" in drawn(app)[app.size.height - 2]


class TestRecipientHeader:
    async def test_a_count_is_never_cut(self, world):
        """Was « … dans le fil, sans notification 2… », « écarté 1… »: the line wraps
        between counts, each label with its number."""
        from core.models import Patient, Recipient

        cid = world.campaigns.broadcast_live
        on_it = Recipient.select(Recipient.patient).where(Recipient.campaign == cid)
        for p in Patient.select().where(Patient.id.not_in(on_it)).order_by(Patient.id).limit(3):
            p.app_id, p.push_enabled, p.marketing_consent, p.do_not_contact = "app-" + p.emr_id, False, True, False
            p.save()
            recipients.assign_patient(world.ctx, cid, p.emr_id)
        recipients.remove(world.ctx, cid, p.emr_id)
        recipients.start(world.ctx, cid)  # the pushes: none for those with push off
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            s = screen.summary
            assert any(code in FEED_ONLY for code in [r.reason_code for r in recipients.page(world.ctx, cid)])
            lines = drawn(app)
            top = lines[1 : lines.index(next(x for x in lines if x.startswith(" Dossier")))]
            assert not any("…" in x for x in top), top
            shown = dict(s.shown_counts())
            from core.words import word

            for status, n in shown.items():
                if n:
                    label = f"{word('recipient', status)} {n}"
                    assert any(label in x for x in top), (label, top)
            assert any(f"total {s.total}" in x for x in top) and any("+1 retiré" in x for x in top), top
            assert len(top) >= 3  # the campaign's line, its counts on two


class TestCampaignList:
    async def test_every_status_is_whole(self, world):
        """Was « envoyée avec er… »: the status column was as wide as the English words
        (16, « sent with errors »), « envoyée avec erreurs » has 20."""
        from core.enums import CampaignStatus, RecipientStatus
        from core.models import Recipient
        from core.words import word

        cid = world.campaigns.broadcast_live
        recipients.start(world.ctx, cid)
        queued = Recipient.campaign == cid, Recipient.status == RecipientStatus.QUEUED
        Recipient.update(status=RecipientStatus.FAILED, reason_code="unknown_app_account").where(*queued).execute()
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            lines = drawn(app)
            shown = word("campaign", CampaignStatus.SENT_WITH_ERRORS)
            assert shown == "envoyée avec erreurs"
            assert any(shown in x for x in lines), lines
            assert not any("…" in x[30:50] for x in lines[2:8]), lines

    async def test_names_keep_their_room_when_no_long_status_is_shown(self, world):
        """The status column sized for « envoyée avec erreurs » whether a campaign had it
        or not took four columns from every name at 80 (« Invitation — patients du … »);
        it is as wide as the longest status shown."""
        from textual.widgets import DataTable

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one(DataTable)
            widths = {str(c.key.value): c.width for c in table.columns.values()}
            assert widths["status"] == 16, widths
            assert widths["name"] >= 30, widths


class TestTemplateEditor:
    async def test_the_push_field_s_hint_is_whole(self, world):
        """Was « Notif.  texte brut, 178 caractères au » on a new broadcast's empty push
        field (« au plus » cut; in English « at most 178 charac »); the counter beside it
        says the 178."""
        from textual.widgets import Input

        from core import campaigns

        c = campaigns.create(world.ctx, "broadcast", "Sans message", "2026-03-02", "2026-03-06")
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, c.id)
            await pilot.press("t")
            await settle(pilot, 0.35)
            hint = app.screen.query_one("#fr-push", Input).placeholder
            assert hint
            line = next(x for x in drawn(app) if x.startswith("Notif."))
            assert hint in line, (hint, line)
            assert "0 / 178" in line, line


class TestSearchBox:
    async def test_its_keys_are_said_whole_and_stay_while_typing(self, world):
        """Was « (entrée : retour au tableau, échap : » — cut in the placeholder, which
        went anyway at the first letter typed."""
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            await pilot.press("slash")
            await settle(pilot)
            screen = app.screen
            keys, placeholder = (w.replace("\xa0", " ") for w in (screen._search_keys(), screen._placeholder()))
            assert keys == "↓ ou entrée : vers la liste · échap : effacer"
            text = "\n".join(drawn(app))  # no-break spaces drawn as spaces
            assert placeholder in text and keys in text, text
            await pilot.press("z", "z")
            await settle(pilot, 0.3)
            assert keys in "\n".join(drawn(app))


class TestReason:
    async def test_a_reason_the_table_cuts_is_whole_in_the_detail(self, world):
        """« écarté · pas de compte dans l'ap… » in the table is acceptable: enter opens the
        detail, where the reason is whole (the line under the table says enter does so)."""
        from core.models import Patient, Recipient

        cid = world.campaigns.broadcast_live
        on_it = Recipient.select(Recipient.patient).where(Recipient.campaign == cid)
        p = Patient.select().where(Patient.id.not_in(on_it)).order_by(Patient.id).first()
        p.app_id, p.push_enabled, p.marketing_consent, p.do_not_contact = "app-" + p.emr_id, False, True, False
        p.save()
        recipients.assign_patient(world.ctx, cid, p.emr_id)
        recipients.start(world.ctx, cid)
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            row = screen.table.order.index(next(r for r in screen.table.loaded.values() if r.emr_id == p.emr_id).id)
            screen.table.move_cursor(row=row, animate=False)
            await settle(pilot)
            r = screen.selected_row()
            line = next(x for x in drawn(app) if x.startswith(f" {p.emr_id}"))
            assert line.rstrip().endswith("…"), line  # cut in the table at 80 columns
            assert "entrée : tout sur le destinataire choisi" in "\n".join(drawn(app))
            reason = r.reason(when=str)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RecipientDetailModal)
            detail = " ".join(rendered(app.screen.query_one("#recipient-detail-body")).split())
            assert f"Raison {' '.join(reason.split())}" in detail, detail

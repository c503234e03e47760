"""The TUI as staff use it all day (issue #18): no edit lost without a word, keys that
can be found and pressed, words that fit at 80 columns. Driven with Pilot, keyboard only."""

from __future__ import annotations

import re

import pytest
from tui_helpers import (
    LOGIN,
    app_for,
    campaign_open,
    copied_world,
    module_world,
    open_campaign,
    rendered,
    screen_text,
    select,
    settle,
    wait_for,
)

from core import campaigns as campaigns_mod
from core.models import AuditLog, Campaign, Patient, Recipient, Template
from tui.screens.campaign_detail import CampaignDetailScreen
from tui.screens.campaign_list import CampaignListScreen
from tui.screens.modals import ConfirmModal
from tui.screens.recipients import RecipientsScreen
from tui.screens.template_editor import TemplateEditorScreen

pytestmark = pytest.mark.anyio


base_world = module_world("staff", n_patients=60)


world = copied_world


class TestNoLostEdit:
    async def test_typing_after_e_adds_to_the_name(self, world):
        """Focus puts the cursor in the name; it never selects it all for the next key to replace."""
        cid = world.campaigns.invitation_draft
        before = Campaign.get_by_id(cid).name
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("e")
            await settle(pilot)
            assert isinstance(app.screen, CampaignDetailScreen)
            await pilot.press(*" 2")
            await settle(pilot)
            assert app.screen.query_one("#name").value == before + " 2"

    async def test_every_text_field_keeps_its_text_on_focus(self):
        """No field of the TUI is built with Textual's select-all-on-focus."""
        import pathlib

        from textual.widgets import Input

        import tui

        root = pathlib.Path(tui.__file__).parent
        for path in root.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert " Input(" not in text and "(Input(" not in text, f"{path}: use tui.widgets.text_input.TextInput"
            subclassed = re.search(r"^class \w+\(Input\):", text, re.M)
            assert not subclassed or path.name == "text_input.py", f"{path}: subclass TextInput"
        from tui.widgets.text_input import TextInput

        assert isinstance(TextInput(), Input) and TextInput().select_on_focus is False

    async def test_escape_on_a_filled_new_form_asks(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("tab", *"Rappel", "escape")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Leave the new campaign without saving?" in screen_text(app)
            await pilot.press("n")  # keep editing
            await settle(pilot)
            assert isinstance(app.screen, CampaignDetailScreen)
            assert app.screen.query_one("#name").value == "Rappel"
            await pilot.press("escape", "y")
            await settle(pilot)
            assert isinstance(app.screen, CampaignListScreen)
            assert not Campaign.select().where(Campaign.name == "Rappel").exists()

    async def test_a_name_typed_and_saved_in_one_burst_is_saved_whole(self, world):
        """Over SSH the name's letters and ctrl+o arrive together; ctrl+o is bound first
        (priority), so it ran while the last letters still waited in the field's queue:
        the save read a part of the name, or none (seen in tmux: nothing saved)."""
        from textual import events

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            app.screen.query_one("#name").focus()
            await settle(pilot)
            for ch in "Rappel de vaccin":  # one burst: nothing awaited between the keys
                app.post_message(events.Key("space" if ch == " " else ch, ch))
            app.post_message(events.Key("ctrl+o", None))
            await settle(pilot)
            assert Campaign.select().where(Campaign.name == "Rappel de vaccin").exists(), screen_text(app)
            assert not isinstance(app.screen, CampaignDetailScreen)

    async def test_a_row_chosen_and_opened_in_one_burst_opens_that_row(self, world):
        """↓ then enter typed together: enter (bound first) opened the row the cursor was
        on before the ↓ was handled — the campaign above the one chosen (seen in tmux)."""
        from textual import events

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            first, below = app.screen._order[:2]
            await select(pilot, first)
            app.post_message(events.Key("down", None))
            app.post_message(events.Key("enter", "\r"))
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)
            assert app.screen.campaign_id == below

    async def test_text_typed_after_tab_in_one_burst_lands_in_the_next_field(self, world):
        """Tab and the next field's text arrive together over SSH: the letters were sent
        to the field focused before the Tab was handled — « Nom Vaccin a2026-1 »,
        « Premier jour 2-22 » (seen in tmux, 3 tries of 3)."""
        from textual import events

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert app.focused is app.screen.query_one("#kind")
            # ↓: a broadcast, whose dates show after its name — once the choice is handled
            burst = ["down", "tab", *"Vaccin", "tab", *"2026-12-22", "tab", *"2027-01-15"]
            for key in burst:  # one burst: nothing awaited between the keys
                app.post_message(events.Key(key, key if len(key) == 1 else None))
            await settle(pilot)
            values = {f: app.screen.query_one(f"#{f}").value for f in ("name", "starts_on", "ends_on")}
            assert values == {"name": "Vaccin", "starts_on": "2026-12-22", "ends_on": "2027-01-15"}, values

    async def test_slash_and_a_word_in_one_burst_filter_the_list(self, world):
        """« /tre » typed together on the campaign list: the t reached the list's own key
        (the template) before the filter had the focus — another screen opened."""
        from textual import events

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for key in ["slash", *"tre"]:
                app.post_message(events.Key(key, "/" if key == "slash" else key))
            await settle(pilot)
            assert isinstance(app.screen, CampaignListScreen), type(app.screen)
            assert app.screen.query_one("#filter").value == "tre"

    async def test_f10_with_unsaved_changes_asks_before_quitting(self, world):
        """f10 quit at once and lost the template being edited; it now asks as escape
        does, and quits when nothing is unsaved."""
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, world.campaigns.invitation_draft)
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, TemplateEditorScreen)
            app.screen.query_one("#fr-subject").focus()
            await pilot.press("end", *"!!", "f10")  # the edit and f10 in one go
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal), type(app.screen)
            assert "Quit clinicast without saving the template?" in screen_text(app)
            await pilot.press("n")  # keep editing
            await settle(pilot)
            assert isinstance(app.screen, TemplateEditorScreen) and app.is_running
            assert app.screen.query_one("#fr-subject").value.endswith("!!")
            await pilot.press("f10", "y")
            await settle(pilot)
        assert app.return_code == 0

    async def test_f10_with_nothing_unsaved_quits_at_once(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("f10")
            await settle(pilot)
            assert not app.is_running

    async def test_escape_on_an_untouched_form_leaves_at_once(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, world.campaigns.broadcast_live)
            await pilot.press("e")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, CampaignListScreen)

    async def test_escape_on_a_modified_edit_form_asks(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, world.campaigns.broadcast_live)
            await pilot.press("e")
            await settle(pilot)
            await pilot.press("backspace", "escape")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Leave the campaign's details without saving?" in screen_text(app)

    async def test_escape_on_a_written_opt_out_note_asks(self, world):
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            await pilot.press("o")
            await settle(pilot)
            app.screen.query_one("#opt-out-note").focus()
            await pilot.press(*"par téléphone", "escape")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("n")
            await settle(pilot)
            assert app.screen.query_one("#opt-out-note").value == "par téléphone"

    async def test_closing_add_patients_with_conditions_chosen_asks(self, world):
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("f3")  # the Conditions tab, by key
            await settle(pilot)
            assert app.screen.active_tab() == "tab-conditions"
            await pilot.press("enter", "down", "enter")  # a field chosen
            await settle(pilot, delay=0.35)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)


class TestEmptyEnglishVersion:
    def _blank_english(self, world):
        cid = world.campaigns.broadcast_live
        Template.update(title="", body="", push="").where(Template.campaign == cid, Template.language == "en").execute()
        return cid

    def test_core_counts_the_recipients_who_would_get_french(self, world):
        cid = self._blank_english(world)
        english = Recipient.select().join(Patient).where(Recipient.campaign == cid, Patient.language == "en").count()
        assert english > 0
        gaps = campaigns_mod.language_gaps(world.ctx, cid)
        assert [(g.language, g.patients, g.among) for g in gaps] == [("en", english, "recipients")]
        assert "the English version is empty: they will get the French one" in str(gaps[0])
        full = campaigns_mod.get_templates(world.ctx, world.campaigns.invitation_draft)
        assert campaigns_mod.language_gaps(world.ctx, world.campaigns.invitation_draft, full) == []

    async def test_saving_an_empty_english_version_asks(self, world):
        cid = world.campaigns.broadcast_live
        app = app_for(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("t")
            await settle(pilot, delay=0.35)
            editor = app.screen
            assert isinstance(editor, TemplateEditorScreen)
            editor.query_one("#en-title").value = ""
            editor.query_one("#en-body").text = ""
            editor.query_one("#en-push").value = ""
            await settle(pilot, delay=0.35)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "English version is empty" in screen_text(app)
            await pilot.press("n")
            await settle(pilot)
            assert Template.get(Template.campaign == cid, Template.language == "en").title != ""
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert Template.get(Template.campaign == cid, Template.language == "en").title == ""

    async def test_start_warns_of_an_empty_english_version(self, world):
        cid = self._blank_english(world)
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("s")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Warning:" in screen_text(app) and "English version is empty" in screen_text(app)


class TestAddSeveral:
    async def test_one_patient_tab_adds_several_in_a_row(self, world):
        cid = world.campaigns.invitation_draft
        targets = list(
            Patient.select()
            .where(Patient.app_id.is_null(True), Patient.email != "", Patient.do_not_contact == False)  # noqa: E712
            .order_by(Patient.id)
            .limit(2)
        )
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("a")
            await settle(pilot)
            modal = app.screen
            for p in targets:
                await pilot.press(*p.emr_id)
                await settle(pilot)
                await pilot.press("enter")  # the one result: chosen in one enter
                await settle(pilot)
                assert app.screen is modal, "the dialog stays open for the next patient"
                assert f"({p.emr_id}) added" in screen_text(app)
                assert modal.query_one("#patient-query").value == ""
            assert "2 added so far" in screen_text(app)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)
            assert Recipient.select().where(Recipient.campaign == cid).count() == 2


class TestOneSearchRule:
    def test_the_rule(self):
        from core import search

        assert search.matches("Nouvelle médecin : Dre Girard", "medecin")
        assert search.matches("Nouvelle médecin : Dre Girard", "GIRARD méde")
        assert not search.matches("Nouvelle médecin : Dre Girard", "medecine")

    def test_campaign_filter_ignores_accents_and_case(self, world):
        found = campaigns_mod.summaries(world.ctx, search="MEDECIN")
        assert [s.id for s in found] == [world.campaigns.broadcast_live]

    def test_recipient_search_finds_words_in_any_order(self, world):
        from core import recipients

        cid = world.campaigns.broadcast_live
        r = recipients.page(world.ctx, cid, limit=1)[0]
        first, last = r.name.split(" ", 1)
        found = recipients.page(world.ctx, cid, search=f"{last.upper()} {first}", limit=None)
        assert r.id in [x.id for x in found]

    async def test_campaign_filter_in_the_tui(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"medecin")
            await settle(pilot)
            assert app.screen._order == [world.campaigns.broadcast_live]


class TestSmaller:
    async def test_the_test_dialog_promises_the_mark_that_arrives(self, world):
        from core import recipients, testsend

        cid = world.campaigns.invitation_sent
        rows = recipients.page(world.ctx, cid, limit=None)
        lang = {p.emr_id: p.language for p in Patient.select()}
        fr = next(i for i, r in enumerate(rows) if lang[r.emr_id] == "fr")
        en = next(r for r in rows if lang[r.emr_id] == "en")
        assert testsend.subject_prefix(world.ctx, cid, en.emr_id) == "[TEST]"
        assert testsend.subject_prefix(world.ctx, cid, rows[fr].emr_id) == "[ESSAI]"
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            screen.table.move_cursor(row=fr)
            await settle(pilot)
            await pilot.press("T")
            await settle(pilot)
            assert "its subject starting with [ESSAI]" in screen_text(app)


class TestKeys:
    async def test_question_mark_and_f1_list_every_key_of_the_screen(self, world):
        from tui.screens.keys import KeysScreen

        async with campaign_open(world, world.campaigns.invitation_sent) as (app, pilot):
            for key in ("question_mark", "f1"):
                await pilot.press(key)
                await settle(pilot)
                assert isinstance(app.screen, KeysScreen)
                text = rendered(app.screen.query_one("#keys-table"))
                for binding_id in ("recipients.stop", "recipients.test", "recipients.reinvite", "recipients.opt_out"):
                    assert binding_id in text
                assert "recipients.export" in text and "app.quit" in text
                await pilot.press("escape")
                await settle(pilot)
                assert isinstance(app.screen, RecipientsScreen)

    def test_no_default_key_a_multiplexer_or_ssh_client_takes(self):
        from tui import keys

        eaten = {"ctrl+b", "ctrl+a", "ctrl+s", "ctrl+q", "ctrl+z", "ctrl+backslash"}
        for classes in keys.scopes().values():
            for cls in classes:
                for b in keys._bindings(cls):
                    first = keys._keys(b.key)[0]
                    assert first not in eaten, f"{b.id}: {b.key} (its first key is taken by tmux, screen or XON/XOFF)"
        assert all(b.id for classes in keys.scopes().values() for cls in classes for b in keys._bindings(cls) if b.show)

    def test_keys_config_unknown_id_and_clash_are_problems(self):
        from tui import keys

        assert keys.problems({"template.bold": "ctrl+k"}) == []
        unknown = keys.problems({"template.blod": "ctrl+k"})
        assert len(unknown) == 1 and "keys.template.blod: no binding has this id" in unknown[0]
        clash = keys.problems({"recipients.add": "s"})
        assert len(clash) == 1 and "recipients.add and recipients.start would both be s" in clash[0]
        from core import i18n

        i18n.use("fr")  # the screen named in the reader's words (it said « l'écran template editor »)
        try:
            [clash] = keys.problems({"template.bold": "ctrl+o"})
            assert clash.endswith("sur l'écran «\u00a0éditeur de modèle\u00a0»"), clash
        finally:
            i18n.use("en")

    async def test_keys_from_the_config_rebind(self, world):
        text = world.config_path.read_text()
        world.config_path.write_text(text + '\n[keys]\n"template.bold" = "ctrl+k"\n"campaigns.new" = "N"\n')
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, CampaignListScreen)
            await pilot.press("N")
            await settle(pilot)
            assert isinstance(app.screen, CampaignDetailScreen)

    def test_config_check_refuses_an_unknown_binding_id(self, world):
        from click.testing import CliRunner

        from cli import cli

        text = world.config_path.read_text()
        world.config_path.write_text(text + '\n[keys]\n"campaigns.nwe" = "N"\n')
        res = CliRunner().invoke(cli, ["config", "check", "--config", str(world.config_path)], obj={})
        assert res.exit_code == 2 and "keys.campaigns.nwe" in res.stderr and "campaigns.new" in res.stderr

    @pytest.mark.parametrize(
        "keys_table", ['"template.sav" = "ctrl+o"', '"recipients.add" = "s"'], ids=["unknown id", "key taken"]
    )
    def test_config_check_does_not_say_ok_with_a_keys_problem(self, world, keys_table):
        from click.testing import CliRunner

        from cli import cli

        text = world.config_path.read_text()
        world.config_path.write_text(text + f"\n[keys]\n{keys_table}\n")
        res = CliRunner().invoke(cli, ["config", "check", "--config", str(world.config_path)], obj={})
        assert res.exit_code == 2 and "keys" in res.stderr, (res.stdout, res.stderr)
        first = res.stdout.splitlines()[0]
        assert first == f"{world.config_path}: problems", res.stdout

    async def test_the_palette_offers_only_what_applies(self, world):
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            screen = app.screen
            names = [name for name, _, _ in screen.palette_commands()]
            assert not any("Re-invite" in n for n in names) and any("Stop sending" in n for n in names)
            await pilot.press("escape")
            await settle(pilot)
            screen = await open_campaign(pilot, world.campaigns.invitation_sent)
            assert any("Re-invite" in name for name, _, _ in screen.palette_commands())


class TestRecipientDetail:
    async def test_enter_opens_everything_about_the_recipient(self, world):
        from core.models import Delivery
        from tui.screens.recipient_detail import RecipientDetailModal

        cid = world.campaigns.invitation_sent
        r = Recipient.select().where(Recipient.campaign == cid).order_by(Recipient.id).first()
        long_reason = "550 5.1.1 mailbox unavailable: " + "the server said more than fits on a line " * 3
        Recipient.update(status="failed", reason_code="", reason=long_reason).where(Recipient.id == r.id).execute()
        Delivery.create(kind="email", campaign=cid, recipient=r, status="failed", attempts=3, last_error=long_reason)
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            screen.table.move_cursor(row=0)
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RecipientDetailModal)
            text = rendered(app.screen.query_one("#recipient-detail-body")).replace("\xa0", " ")  # drawn as spaces
            assert "Attempts" in text and "3" in text
            assert "mailbox unavailable" in text and "fits on a line" in " ".join(text.split())
            assert "Deliveries" in text and "email · failed" in text
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)

    async def test_a_broadcast_recipient_with_push_off_reads_as_in_the_ledger(self, world):
        """Skipped for the push only, their message is in their feed: the detail's status
        says so in the ledger's words, not "skipped"."""
        from core import recipients
        from core.rules import FEED_ONLY
        from tui.screens.recipient_detail import RecipientDetailModal

        cid = world.campaigns.broadcast_live
        on_it = Recipient.select(Recipient.patient).where(Recipient.campaign == cid)
        p = Patient.select().where(Patient.id.not_in(on_it)).order_by(Patient.id).first()
        Patient.update(app_id="app-push-off", push_enabled=False, marketing_consent=True, do_not_contact=False).where(
            Patient.id == p.id
        ).execute()
        recipients.assign_patient(world.ctx, cid, p.emr_id)  # in their feed
        recipients.start(world.ctx, cid)  # the pushes: none for them
        r = Recipient.get(Recipient.campaign == cid, Recipient.patient == p.id)
        assert r.status == "skipped" and r.reason_code in FEED_ONLY
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("slash", *p.emr_id, "enter")  # found, back to the table
            await settle(pilot)
            assert app.screen.table.selected_row().emr_id == p.emr_id
            assert "in feed, no push" in screen_text(app)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RecipientDetailModal)
            text = rendered(app.screen.query_one("#recipient-detail-body"))
            status = next(line for line in text.splitlines() if line.strip().startswith("Status"))
            assert "in feed, no push" in status, text

    async def test_a_sent_recipient_s_opt_out_is_in_the_detail_with_its_time(self, world):
        """A patient calls: « I had opted out and got your message ». The detail said when
        the message left and nothing of the patient's opt-outs: the manager could not see,
        in the screens, whether the opt-out was recorded before or after. It lists them,
        each with its moment (clinic time), source, who recorded it and its note."""
        from core.formats import when
        from core.optouts import history, ledger
        from core.patients.lookup import get_by_emr
        from tui.screens.recipient_detail import RecipientDetailModal

        cid = world.campaigns.invitation_sent
        r = Recipient.select().where(Recipient.campaign == cid, Recipient.status == "sent").first()
        emr_id = r.patient.emr_id
        ledger.record(world.ctx, emr_id, "email", "called: got the invitation")
        [o] = history.for_patient(get_by_emr(emr_id))
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("slash", *emr_id, "enter")
            await settle(pilot)
            assert app.screen.table.selected_row().emr_id == emr_id
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RecipientDetailModal)
            text = " ".join(rendered(app.screen.query_one("#recipient-detail-body")).replace("\xa0", " ").split())
            assert "Opt-outs" in text, text
            assert when(o.at, world.ctx.config.clinic.tz).replace("\xa0", " ") in text, text
            assert "called: got the invitation" in text and f"recorded by {LOGIN}" in text, text


class TestIncidentAnswers:
    """What a manager answering « I opted out and got your message » or « who sent this? »
    reads in the screens."""

    async def test_the_campaign_screen_says_who_started_and_stopped_it_and_when(self, world):
        """« Who sent this campaign? »: the campaign's screen gave its status and counts, not
        who created, started or stopped it, nor when — only the audit trail knew. Its header
        says them, each with its login and its moment in the clinic's zone, as `campaigns
        show` does (core.campaigns.history)."""
        from dataclasses import replace
        from datetime import timedelta

        from core import recipients
        from core.formats import short_when

        cid = world.campaigns.broadcast_live
        later = world.clock() + timedelta(minutes=7)
        other = replace(world.ctx, user=replace(world.ctx.user, login="jdoe"), clock=lambda: later)
        recipients.start(world.ctx, cid)
        recipients.stop(other, cid)
        tz = world.ctx.config.clinic.tz
        async with campaign_open(world, cid) as (app, pilot):
            header = " ".join(rendered(app.screen.query_one("#campaign-info")).replace("\xa0", " ").split())
        started = short_when(world.clock(), tz).replace("\xa0", " ")
        assert f"started {started} by {LOGIN}" in header, header
        assert f"stopped {short_when(later, tz)} by jdoe".replace("\xa0", " ") in header, header
        assert "created " in header, header

    async def test_the_campaign_screen_says_who_re_invited_and_when(self, world):
        """A re-invitation (`i`) sends invitations too: the header said who started the
        campaign, not who re-invited its patients. It says the latest re-invitation — how
        many, when, by whom — as `campaigns show` does (core.campaigns.history)."""
        from datetime import timedelta

        from core import recipients
        from core.formats import short_when
        from core.models import Invitation

        cid = world.campaigns.invitation_sent
        Invitation.update(expires_at=world.clock() - timedelta(days=1)).execute()  # expired unanswered
        n = recipients.reinvite(world.ctx, cid).will_send
        assert n > 1
        tz = world.ctx.config.clinic.tz
        async with campaign_open(world, cid) as (app, pilot):
            header = " ".join(rendered(app.screen.query_one("#campaign-info")).replace("\xa0", " ").split())
        moment = short_when(world.clock(), tz).replace("\xa0", " ")
        assert f"re-invited {n} patients {moment} by {LOGIN}" in header, header

    async def test_the_opt_out_dialog_shows_the_patient_s_active_opt_outs_first(self, world):
        """A receptionist records a phone opt-out: the dialog asked « what does the patient no
        longer want? » without saying that « email » was out already. It lists the opt-outs in
        force at its top (an undone one is not in force), each with its moment and who; at
        80×24 with all four in force, the dialog's buttons are still on the screen."""
        from core.formats import short_when
        from core.optouts import history, ledger
        from tui.screens.opt_out import OptOutModal

        tz = world.ctx.config.clinic.tz
        patient = Recipient.select().where(Recipient.campaign == world.campaigns.broadcast_live).first().patient
        emr_id = patient.emr_id
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)

            async def dialog_text() -> str:
                # as the recipients' `o` and the patient search's open it (tui.screens.opt_out.OptOutFlow)
                app.push_screen(OptOutModal(emr_id, patient.first_name))
                await settle(pilot)
                assert isinstance(app.screen, OptOutModal)
                text = " ".join(rendered(app.screen.query_one("#opt-out-active")).replace("\xa0", " ").split())
                return text

            seen = AuditLog.select().where(AuditLog.action == "patient_show", AuditLog.detail.contains(emr_id))
            before = seen.count()
            assert "Active opt-outs: none" in await dialog_text()
            assert seen.count() == before + 1  # the patient's opt-outs and their notes: a read, audited
            await pilot.press("escape")
            ledger.record(world.ctx, emr_id, "push", "at the desk")
            ledger.clear(world.ctx, emr_id, "push", "asked for them again")  # undone: not in force
            ledger.record(world.ctx, emr_id, "email", "by phone, no more invitations")
            for channel in ("feed", "push", "all"):  # "all" last: after it, each is on file already
                ledger.record(world.ctx, emr_id, channel, "by phone")
            text = await dialog_text()
            email = history.active(world.ctx, emr_id)[0]
            assert text.startswith("Active opt-outs: email"), text
            assert short_when(email.at, tz).replace("\xa0", " ") in text and "by phone, no more invitations" in text
            assert all(f" {w} " in text for w in ("feed", "all", "push")) and "at the desk" not in text, text
            modal = app.screen
            active, question = modal.query_one("#opt-out-active"), modal.query_one("#opt-out-question")
            assert active.region.y < question.region.y  # first, above the question
            # all four in force: the dialog still fits 80×24, its buttons on the screen
            record = modal.query_one("#record")
            assert 0 < record.region.bottom <= 24 and record.region.height, record.region


class TestEightyColumns:
    async def test_the_recipient_footer_shows_the_detail_key(self, world):
        """`enter` opens the detail panel: at 80 columns its key is in the footer, not
        hidden behind the table's own (unshown) `enter`."""
        from textual.widgets._footer import FooterKey

        async with campaign_open(world, world.campaigns.invitation_sent) as (app, pilot):
            screen = app.screen
            assert screen.table.has_focus
            shown = [k for k in screen.query(FooterKey) if k.region.width and k.region.right <= 80 and k.region.y == 23]
            keys = {k.key for k in shown}
            assert "enter" in keys, sorted(keys)
            assert {"a", "s"} <= keys  # the first of the screen's own still fit

    async def test_names_get_the_room_and_the_status_line_is_never_cut(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("DataTable")
            assert table.columns["name"].width >= 30
            row = table.get_row_at(app.screen._order.index(world.campaigns.invitation_sent))
            assert str(row[0]) == "Invitation — patients du Dr Gagnon"  # whole, not "Invitation — patien…"
            who = app.screen.query_one("#status-who")
            lines = app.screen.query_one("StatusLine").region.height
            rendered = "".join(
                "".join(seg.text for seg in strip) for strip in who.render_lines(who.region.reset_offset)
            )
            assert "…" not in rendered and app.scheduler_state[-12:] in " ".join(rendered.split())
            assert 1 <= lines <= 3


def in_french(world) -> None:
    """The world's staff member reads French (the app started after this speaks it)."""
    from tui_helpers import users_toml, write_config

    write_config(world.folder, users=users_toml(language="fr"))


def drawn(widget) -> list[str]:
    """The lines a widget draws now, as text."""
    return ["".join(seg.text for seg in strip) for strip in widget.render_lines(widget.region.reset_offset)]


class TestArchive:
    """Archiving from the campaign list (the CLI's `campaigns archive`): a key in the
    footer, a confirmation, core.campaigns.archive."""

    async def test_shift_a_archives_after_a_confirmation_and_brings_it_back(self, world):
        from core.models import AuditLog

        cid = world.campaigns.invitation_draft
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = await select(pilot, cid)
            await pilot.press("A")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "leaves the list" in screen_text(app) and "Nothing is deleted" in screen_text(app)
            await pilot.press("n")  # no: nothing changes
            await settle(pilot)
            assert app.screen is screen and not Campaign.get_by_id(cid).archived
            await pilot.press("A")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert app.screen is screen and Campaign.get_by_id(cid).archived
            assert cid not in screen._order  # archived campaigns are hidden
            assert AuditLog.select().where(AuditLog.action == "archive", AuditLog.campaign == cid).count() == 1
            assert any("archived" in n.message for n in app._notifications)
            # shown again (v), the key says what it does to an archived one, and undoes it
            await pilot.press("v")
            await settle(pilot)
            await select(pilot, cid)
            assert screen.active_bindings["A"].binding.description == "Unarchive"
            await pilot.press("A")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal) and "comes back in the list" in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
            assert not Campaign.get_by_id(cid).archived
            assert screen.active_bindings["A"].binding.description == "Archive"

    async def test_a_campaign_still_sending_is_refused_before_any_question(self, world):
        from core import conditions, recipients

        cid = world.campaigns.invitation_draft
        recipients.assign_conditions(world.ctx, cid, [conditions.parse("email is not empty")])
        recipients.start(world.ctx, cid)  # its emails wait for a scheduler (none here)
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = await select(pilot, cid)
            await pilot.press("A")
            await settle(pilot)
            assert app.screen is screen  # no confirmation for what core would refuse
            said = [n.message for n in app._notifications]
            assert any("still has deliveries under way" in m for m in said), said
            assert not Campaign.get_by_id(cid).archived

    async def test_the_key_is_in_the_footer_at_80_columns_in_french(self, world):
        from textual.widgets._footer import FooterKey

        in_french(world)
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            shown = {
                k.key: k.description
                for k in app.screen.query(FooterKey)
                if k.region.width and k.region.right <= 80 and k.region.y == 23
            }
            assert shown.get("A") == "Archiver", shown
            assert {"enter", "n", "e", "t", "v"} <= set(shown), shown

    async def test_the_key_can_be_rebound_from_the_config(self, world):
        from tui import keys

        assert keys.problems({"campaigns.archive": "ctrl+k"}) == []
        text = world.config_path.read_text()
        world.config_path.write_text(text + '\n[keys]\n"campaigns.archive" = "ctrl+k"\n')
        cid = world.campaigns.invitation_draft
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("ctrl+k")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)


class TestTemplateEditorAt80Columns:
    async def test_the_variable_picker_shows_every_description_and_example_whole(self, world):
        """In French at 80 columns the picker cut its lines (« Lien de désabonnement
        personnel (requis dans cha… »): each variable's words are drawn whole, wrapped."""
        from textual.widgets import OptionList

        from core import i18n, templating

        in_french(world)
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, world.campaigns.invitation_draft)
            await pilot.press("t")
            await settle(pilot, delay=0.35)
            await pilot.press("tab")  # into the body: every variable of an email
            await settle(pilot)
            await pilot.press("f2")
            await settle(pilot)
            variables = app.screen.query_one(OptionList)
            assert i18n.current() == "fr"
            shown = templating.variables_for("invitation", "body")
            assert len(shown) == variables.option_count and any(v.name == "unsubscribe.url" for v in shown)
            for i, v in enumerate(shown):
                variables.highlighted = i  # scrolled to: the whole option is in view
                await settle(pilot)
                lines = drawn(variables)
                # its words, without the spaces that wrapping adds, the list's border and scrollbar
                text = "".join(c for c in "".join(lines) if not c.isspace() and not "\u2580" <= c <= "\u259f")
                assert "…" not in "".join(lines), lines
                said = v.description_words + i18n._("e.g. {example}").format(example=v.example_in("fr"))
                assert "".join(said.split()) in text, (v.name, lines)

    async def test_the_preview_header_always_shows_the_emr_id(self, world):
        """A long name cut the patient's EMR id off the preview's header (« pour Jean-François
        Desjardins… »): the name is cut, never the number."""
        from core import views

        cid = world.campaigns.invitation_draft
        patient = views.preview_patient(cid)  # the patient the preview opens on
        patient.first_name, patient.last_name = "Marie-Ève-Geneviève", "Bouchard-Desrochers-Lefebvre"
        patient.save()
        in_french(world)
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("t")
            await settle(pilot, delay=0.35)
            who = app.screen.query_one("#preview-who")
            [line] = drawn(who)
            assert line.rstrip().endswith(f"· {patient.emr_id}"), line
            assert line.startswith("pour Marie-Ève") and "…" in line, line
        app = app_for(world)
        async with app.run_test(size=(160, 40)) as pilot:  # where it has room: the name whole
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("t")
            await settle(pilot, delay=0.35)
            [line] = drawn(app.screen.query_one("#preview-who"))
            assert "Marie-Ève-Geneviève Bouchard-Desrochers-Lefebvre · " + patient.emr_id in line, line


class TestEmailPreview:
    async def test_the_email_reads_as_html_and_f6_shows_the_text_part(self, world):
        from textual.widgets import Markdown

        cid = world.campaigns.invitation_draft
        t = Template.get(Template.campaign == cid, Template.language == "fr")
        t.body = t.body.replace("Bonjour", "**Bonjour**", 1) + "\n\n- un\n- deux\n"
        t.save()
        app = app_for(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("t")
            await settle(pilot, delay=0.35)
            editor = app.screen
            md = editor.query_one("#preview-body", Markdown)
            assert md.display and "**Bonjour" in md.source and "- un" in md.source  # bold and lists as HTML shows them
            assert "Clinique du Parc" in md.source.rsplit("---", 1)[1]  # the identification, at the end
            # from the body, where staff write: its own f6 (select the line) took the key, and
            # the next key typed replaced the line
            body = editor.query_one("#fr-body")
            body.focus()
            await settle(pilot)
            before = body.text
            await pilot.press("f6")
            await settle(pilot, delay=0.35)
            text = editor.query_one("#preview-text")
            assert text.display and not md.display
            assert "**" not in str(text.render()) and "Bonjour" in str(text.render())
            assert "text part" in editor.query_one("#preview-pane").border_title
            assert not body.selected_text and body.text == before

    async def test_a_template_error_in_the_preview_keeps_its_stars(self, world):
        """The preview said the error in Markdown italics: « '' inattendu* » for « '*' »."""
        cid = world.campaigns.invitation_draft
        app = app_for(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await select(pilot, cid)
            await pilot.press("t")
            await settle(pilot, delay=0.35)
            body = app.screen.query_one("#fr-body")
            body.text = "{{ * }}"
            preview = app.screen.query_one("#preview-body")

            def shown() -> str:  # the preview as drawn (its blocks' text), not its Markdown source
                return " ".join(str(block.render()) for block in preview.query("MarkdownBlock"))

            assert await wait_for(pilot, lambda: "unexpected '*'" in shown()), shown()

    async def test_condition_values_in_words_and_the_comparator_kept(self, world):
        from textual.widgets import Select

        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("f3")
            await settle(pilot)
            row = app.screen.query_one("ConditionRow")
            row.query_one(".cond-field", Select).value = "connected_system"
            await settle(pilot, delay=0.35)
            value = row.query_one(".cond-value", Select)
            assert [str(prompt) for prompt, _ in value._options if _ is not Select.NULL] == ["on the patient app"]
            row.query_one(".cond-op", Select).value = "!="
            await settle(pilot, delay=0.35)
            row.query_one(".cond-field", Select).value = "language"
            await settle(pilot, delay=0.35)
            assert row.query_one(".cond-op", Select).value == "!="  # kept: language has it too
            assert row.parts() == ("language", "!=", "fr")
            row.query_one(".cond-field", Select).value = "age"
            await settle(pilot, delay=0.35)
            assert row.query_one(".cond-op", Select).value == "!="


class TestTheme:
    async def test_the_theme_chosen_is_remembered_for_the_next_session(self, world):
        from core import preferences

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.theme == "textual-dark"
            app.theme = "nord"  # as the palette's "Change theme" does
            await settle(pilot)
        assert preferences.get(LOGIN).theme == "nord"
        again = app_for(world)
        async with again.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert again.theme == "nord"

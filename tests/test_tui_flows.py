"""The TUI driven with Pilot, as a user would with the keyboard: each flow asserts on
the database and on the screen."""

from __future__ import annotations

import asyncio
import re

import pytest
from pseudo import screen_lines
from textual.binding import Binding
from tui_helpers import (
    LOGIN,
    app_for,
    campaign_open,
    copied_world,
    make_world,
    module_world,
    open_add,
    open_campaign,
    screen_text,
    settle,
    type_into,
    users_toml,
    wait_for,
    write_config,
)

from core import campaigns as campaigns_mod
from core import conditions, recipients
from core.models import Campaign, Patient, Recipient, Template
from core.reasons import counted
from tui.screens.campaign_detail import CampaignDetailScreen
from tui.screens.campaign_list import CampaignListScreen
from tui.screens.problem import ProblemScreen
from tui.screens.recipients import RecipientsScreen
from tui.screens.template_editor import TemplateEditorScreen

pytestmark = pytest.mark.anyio


base_world = module_world("base", n_patients=60)


world = copied_world


class TestCampaignList:
    async def test_first_screen_lists_campaigns_with_status_line(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, CampaignListScreen)
            text = screen_text(app)
            assert "Invitation — patients du Dr Gagnon" in text
            assert "Nouvelle médecin : Dre Girard" in text
            assert "mlaval" in text and "scheduler:" in text

    async def test_no_campaign_yet_names_the_key_the_config_bound(self, tmp_path, as_mlaval):
        """« press n to create one » named `n` whatever [keys] bound to campaigns.new."""
        empty = make_world(tmp_path / "empty", n_patients=1, populate=False)
        text = empty.config_path.read_text(encoding="utf-8")
        empty.config_path.write_text(text + '\n[keys]\n"campaigns.new" = "N"\n', encoding="utf-8")
        app = app_for(empty)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "No campaigns yet — press N to create one." in screen_text(app), screen_text(app)

    async def test_filter_as_you_type_and_archived(self, world):
        campaigns_mod.archive(world.ctx, world.campaigns.invitation_draft)
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert world.campaigns.invitation_draft not in screen._order  # archived: hidden
            await pilot.press("slash", *"girard")
            await settle(pilot)
            assert screen._order == [world.campaigns.broadcast_live]
            await pilot.press("escape")
            await settle(pilot)
            assert len(screen._order) == 2
            await pilot.press("v")
            await settle(pilot)
            assert world.campaigns.invitation_draft in screen._order
            # said in the status column: « (archivée) Invitation « Rejoi… » — a mark before the
            # name ate it at 80 columns; its status is on the line under the table
            from textual.widgets import DataTable

            name = Campaign.get_by_id(world.campaigns.invitation_draft).name
            screen.query_one(DataTable).move_cursor(row=screen._order.index(world.campaigns.invitation_draft))
            await settle(pilot)
            row = screen.query_one(DataTable).get_row_at(screen._order.index(world.campaigns.invitation_draft))
            assert (row[0].plain, row[1].plain) == (name, "archived"), row  # 80 columns: no kind column
            line = next(x for x in screen_text(app).splitlines() if x.startswith("(archived"))
            assert "(archived, draft) " + name[:20] in line, screen_text(app)

    async def test_archiving_a_campaign_someone_archived_meanwhile_is_refused(self, world):
        """The list still shows it (someone else archived it since): the archive is refused
        as on the command line — it wrote a second audit row « archive » — and the list is
        read again."""
        from core.models import AuditLog

        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            cid = screen.selected_id()
            assert cid is not None
            campaigns_mod.archive(world.ctx, cid)  # another staff member
            screen.action_archive()  # the palette's « Archive “…” », read before
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert any(f"campaign {cid} is already archived" in m for m in said), said
            assert cid not in screen._order, "the list as it is now: archived, hidden"
        assert AuditLog.select().where(AuditLog.action == "archive").count() == 1


class TestCampaignDetail:
    async def test_create_invitation(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, CampaignDetailScreen)
            await pilot.press("tab", *"Rappel vaccin", "ctrl+s")
            await settle(pilot)
            c = Campaign.get(Campaign.name == "Rappel vaccin")
            assert c.kind == "invitation" and c.created_by == LOGIN
            assert Template.select().where(Template.campaign == c).count() == 2  # default, fr + en
            assert isinstance(app.screen, RecipientsScreen) and app.screen.campaign_id == c.id
            assert "No recipients yet" in screen_text(app)

    async def test_the_kind_choice_keeps_one_button_on_and_moves_both_ways(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, CampaignDetailScreen)

            def on() -> list[str]:
                return [b.id for b in screen.query("#kind RadioButton") if b.value]

            assert on() == ["kind-invitation"] and screen.kind == "invitation"
            for keys, expected in (
                (("down",), "broadcast"),
                (("up",), "invitation"),
                (("enter",), "invitation"),
                (("space",), "invitation"),
                (("right",), "broadcast"),
                (("enter",), "broadcast"),
                (("left",), "invitation"),
            ):
                await pilot.press(*keys)
                await settle(pilot)
                assert on() == [f"kind-{expected}"], keys
                assert screen.kind == expected, keys

    async def test_broadcast_window_is_checked_beside_the_fields(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await pilot.press("down", "tab", *"Fermeture estivale", "tab", *"2025-06-31", "tab", *"2025-06-01")
            await settle(pilot)
            errors = {w.id: str(w.render()) for w in app.screen.query(".error") if w.display}
            assert "YYYY-MM-DD" in errors["error-starts_on"]
            await pilot.press("shift+tab", *["backspace"] * 10, *"2025-06-20")
            await settle(pilot)
            errors = {w.id: str(w.render()) for w in app.screen.query(".error") if w.display}
            assert "before the first" in errors["error-ends_on"]
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, CampaignDetailScreen)  # refused, still here
            assert not Campaign.select().where(Campaign.name == "Fermeture estivale").exists()
            assert app.screen.focused.id == "ends_on"  # the eye goes to the problem
            await pilot.press(*["backspace"] * 10, *"2025-07-02", "ctrl+s")
            await settle(pilot)
            c = Campaign.get(Campaign.name == "Fermeture estivale")
            assert (c.kind, str(c.starts_on), str(c.ends_on)) == ("broadcast", "2025-06-20", "2025-07-02")

    async def test_edit_name_refuses_a_duplicate(self, world):
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.query_one("DataTable").move_cursor(row=screen._order.index(world.campaigns.invitation_draft))
            await pilot.press("e")
            await settle(pilot)
            name = app.screen.query_one("#name")
            name.value = "Nouvelle médecin : Dre Girard"
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "already named" in screen_text(app)
            name.value = "Invitation — été"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert Campaign.get_by_id(world.campaigns.invitation_draft).name == "Invitation — été"
            assert isinstance(app.screen, CampaignListScreen)


class TestRefusals:
    async def test_broken_config_file(self, tmp_path, as_mlaval):
        path = tmp_path / "clinicast.toml"
        # a broken file still names its reader's language (core.config.load.language_lines)
        path.write_text('[clinic]\nname = "x"\ndefault_language = "en"\n[database\nurl = 1\n', encoding="utf-8")
        app = app_for_path(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, ProblemScreen)
            text = screen_text(app)
            assert "config file has problems" in text and "TOML syntax error" in text
            assert "line 4" in text

    async def test_unknown_key(self, tmp_path, as_mlaval):
        path = write_config(tmp_path)
        path.write_text(path.read_text().replace("[scheduler]\n", "[scheduler]\nembeded = true\n"))
        app = app_for_path(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "scheduler.embeded: unknown key" in screen_text(app)

    async def test_database_needs_init(self, tmp_path, as_mlaval):
        path = write_config(tmp_path)
        app = app_for_path(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, ProblemScreen)
            text = screen_text(app)
            assert "database is not ready" in text and "clinicast init" in text
            # the error names the command; the advice adds who runs it, with which
            # config, and the key to try again — the command is not said twice
            drawn = " ".join(line.strip(" │") for line in screen_lines(app).splitlines())
            assert drawn.count("clinicast init") == 1, drawn
            assert f"with `--config {path}`" in text and "press r" in text

    async def test_user_not_in_config(self, tmp_path, as_mlaval):
        make_world(tmp_path, populate=False)
        path = write_config(tmp_path, users=users_toml(login="someoneelse"), default_language="en")
        app = app_for_path(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            text = screen_text(app)
            assert "You cannot use clinicast" in text and "[users.mlaval]" in text

    async def test_user_without_campaigns_permission(self, tmp_path, as_mlaval):
        make_world(tmp_path, populate=False)
        path = write_config(tmp_path, users=users_toml(permissions=()))
        app = app_for_path(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            text = screen_text(app)
            assert "lacks the 'campaigns' permission" in text
            # fixed by an administrator, then r: the app opens
            write_config(tmp_path)
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, CampaignListScreen)

    async def test_no_config_file_anywhere(self, tmp_path, monkeypatch, as_mlaval):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("CLINICAST_CONFIG", raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        from tui.app import make_app

        app = make_app(None, scheduler=False, blink=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "No config file" in screen_text(app)


def app_for_path(path):
    from tui.app import make_app

    return make_app(path, scheduler=False, blink=False)


class TestTemplateEditor:
    async def test_insert_variable_preview_and_save(self, world):
        cid = world.campaigns.invitation_draft
        app = app_for(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.push_screen(TemplateEditorScreen(cid))
            await settle(pilot, 0.35)
            editor = app.screen
            body = editor.query_one("#fr-body")
            body.focus()
            body.move_cursor((0, 0))
            await pilot.press("f2")
            await settle(pilot)
            picker = app.screen
            assert "Patient's first name" in screen_text(app)
            options = picker.query_one("#variables")
            options.highlighted = [o.id for o in options.options].index("clinic.phone")
            await pilot.press("enter")
            await settle(pilot, 0.35)
            assert app.screen is editor
            assert body.text.startswith("{{ clinic.phone }}")
            # the preview renders for a real patient: their name, the clinic's phone
            assert await wait_for(pilot, lambda: "514-555-0100" in screen_text(app) and "for " in screen_text(app))
            # bold on a selection
            body.select_line(1)
            await pilot.press("ctrl+g")  # bold: ctrl+b is tmux's prefix (issue #18)
            await pilot.press("ctrl+s")
            await settle(pilot)
            saved = Template.get(Template.campaign == cid, Template.language == "fr")
            assert saved.body.startswith("{{ clinic.phone }}")
            assert "**" in saved.body

    async def test_save_refuses_a_typo_with_line_and_variable(self, world):
        cid = world.campaigns.invitation_draft
        before = Template.get(Template.campaign == cid, Template.language == "en").body
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.push_screen(TemplateEditorScreen(cid))
            await settle(pilot, 0.35)
            editor = app.screen
            editor.query_one("#template-tabs").active = "tab-en"
            await settle(pilot)
            body = editor.query_one("#en-body")
            body.focus()
            body.move_cursor((2, 0))
            body.insert("Dear {{ patient.frist_name }}\n")
            await pilot.press("ctrl+s")
            await settle(pilot, 0.35)
            assert await wait_for(
                pilot,
                lambda: (
                    "English version, body line 3" in str(editor.query_one("#template-problems").render())
                    and "frist_name" in str(editor.query_one("#template-problems").render())
                ),
            )
            assert app.screen.focused is body and body.cursor_location[0] == 2
            assert Template.get(Template.campaign == cid, Template.language == "en").body == before

    async def test_save_refuses_an_invitation_without_its_link_or_code(self, world):
        """The same core rule as at the command line, shown under the editor with the
        cursor in the body that lacks it; nothing saved."""
        cid = world.campaigns.invitation_draft
        before = Template.get(Template.campaign == cid, Template.language == "en").body
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.push_screen(TemplateEditorScreen(cid))
            await settle(pilot, 0.35)
            editor = app.screen
            editor.query_one("#template-tabs").active = "tab-en"
            await settle(pilot)
            body = editor.query_one("#en-body")
            body.load_text("Hello {{ patient.first_name }}, join us.\n\nUnsubscribe: {{ unsubscribe.url }}\n")
            await pilot.press("ctrl+s")
            await settle(pilot, 0.35)
            assert await wait_for(
                pilot,
                lambda: (
                    "English version, body: must carry the patient's invitation link {{ invitation.url }} or code"
                    in str(editor.query_one("#template-problems").render())
                ),
            )
            assert app.screen.focused is body
            assert Template.get(Template.campaign == cid, Template.language == "en").body == before

    async def test_push_counter_and_too_long_push(self, world):
        cid = world.campaigns.broadcast_live
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.push_screen(TemplateEditorScreen(cid))
            await settle(pilot, 0.35)
            editor = app.screen
            counter = editor.query_one("#fr-push-count")
            assert await wait_for(pilot, lambda: str(counter.render()).endswith("/ 178"))
            assert not counter.has_class("too-long")
            await type_into(pilot, "#fr-push", "x" * 190)
            await settle(pilot, 0.35)
            assert await wait_for(pilot, lambda: str(counter.render()) == "190 / 178" and counter.has_class("too-long"))
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert await wait_for(pilot, lambda: "at most 178" in str(editor.query_one("#template-problems").render()))
            assert len(Template.get(Template.campaign == cid, Template.language == "fr").push) < 178


async def _on_csv_tab_settled(app, pilot) -> None:
    """Once everything typed has settled: the dialog shows its CSV tab, the cursor in the
    path field."""
    await settle(pilot)
    await pilot.pause(0.3)
    await settle(pilot)
    assert app.screen.active_tab() == "tab-csv"
    assert getattr(app.focused, "id", None) == "csv-path"


async def checked_csv(pilot, path) -> object:
    """The dialog's CSV tab, `path` typed in and checked (enter): the dialog."""
    modal = await open_add(pilot, "tab-csv")
    await type_into(pilot, "#csv-path", str(path))
    await pilot.press("enter")
    await settle(pilot)
    return modal


class TestAddPatients:
    async def test_one_patient_by_name(self, world):
        cid = world.campaigns.invitation_draft
        target = (
            Patient.select()
            .where(Patient.app_id.is_null(True), Patient.email != "", Patient.do_not_contact == False)  # noqa: E712
            .order_by(Patient.id)
            .first()
        )
        async with campaign_open(world, cid) as (app, pilot):
            await open_add(pilot)
            await type_into(pilot, "#patient-query", target.emr_id)
            await settle(pilot)
            assert target.last_name in screen_text(app)
            await pilot.press("down", "enter")
            await settle(pilot)
            await pilot.press("escape")  # the dialog stays open for the next patient (issue #18)
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)
            r = Recipient.get(Recipient.campaign == cid, Recipient.patient == target.id)
            assert r.status == "assigned"
            assert target.emr_id in screen_text(app)
            assert "assigned 1" in screen_text(app)

    async def test_a_result_shows_the_app_mark_at_80_columns(self, world):
        """A patient already in the app is added as skipped to an invitation: the result
        line says so before the email, which a long address cut off at 80 columns."""
        cid = world.campaigns.invitation_draft
        target = Patient.select().where(Patient.app_id.is_null(False), Patient.email != "").first()
        target.email = "jean-francois.gagnon-longueuil@clinique.example.org"
        target.save()
        async with campaign_open(world, cid) as (app, pilot):
            await open_add(pilot)
            await type_into(pilot, "#patient-query", target.emr_id)
            await settle(pilot)
            lines = [line for line in screen_lines(app).splitlines() if target.last_name in line]
            assert lines and re.search(r"\bapp\b", lines[0]), lines

    async def test_a_patient_added_again_who_stays_skipped_is_said_so_with_the_reason(self, world):
        """Added twice, a do-not-contact patient is skipped both times: the dialog says why,
        as `recipients add` does from the same core result — never "already a recipient"."""
        cid = world.campaigns.invitation_draft
        target = (
            Patient.select()
            .where(Patient.app_id.is_null(True), Patient.email != "", Patient.do_not_contact == True)  # noqa: E712
            .order_by(Patient.id)
            .first()
        )
        assert target is not None
        async with campaign_open(world, cid) as (app, pilot):
            modal = await open_add(pilot)
            said = []
            for _ in range(2):
                await type_into(pilot, "#patient-query", target.emr_id)
                await pilot.press("down", "enter")
                await settle(pilot)
                said.append(str(modal.query_one("#add-message").render()))
            name = f"{target.first_name} {target.last_name} ({target.emr_id})"
            # the first time the patient IS added, as skipped: the list then shows them (issue:
            # « non ajouté » while the row appeared as « écarté »); the second time, nothing changes
            more = "1 added so far. Search for another, or esc to close."
            assert said == [
                f"{name} added as skipped: do not contact. {more}",
                f"{name} was already a recipient, still skipped: do not contact. {more}",
            ]
            assert (modal.added.added, modal.added.already_assigned, modal.added.skipped) == (0, 0, 2)
            assert modal.added.written == 1

    async def test_a_campaign_that_takes_nobody_says_so_as_the_dialog_opens(self, world):
        """A broadcast whose window ended: the dialog said « nobody can be added » only
        after the staff member had chosen patients and pressed ctrl+o."""
        from datetime import date

        cid = world.campaigns.broadcast_live
        Campaign.update(starts_on=date(2020, 1, 1), ends_on=date(2020, 1, 31)).where(Campaign.id == cid).execute()
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("a")
            await settle(pilot)
            assert await wait_for(pilot, lambda: "nobody can be added" in screen_text(app)), screen_text(app)

    async def test_leaving_with_patients_not_added_asks_in_its_own_words(self, world, tmp_path):
        """« Quitter les patients pas encore ajoutés sans enregistrer ? »: the shared
        sentence read wrong here; the dialog asks its own question, in both languages."""
        from helpers import speaking_french

        from tui.screens.modals import ConfirmModal

        nnb = "\u202f"
        french = {
            "Close without adding these patients?": f"Fermer sans ajouter ces patients{nnb}?",
            "Quit clinicast without adding these patients?": f"Quitter clinicast sans ajouter ces patients{nnb}?",
        }
        with speaking_french(tmp_path / "locale", french):
            async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
                modal = await open_add(pilot, "tab-csv")
                await type_into(pilot, "#csv-path", str(tmp_path / "list.csv"))
                await pilot.press("escape")
                await settle(pilot)
                assert isinstance(app.screen, ConfirmModal)
                assert "Close without adding these patients?" in screen_text(app), screen_text(app)
                assert "without saving" not in screen_text(app)
                app.switch_language("fr")
                await settle(pilot)
                assert f"Fermer sans ajouter ces patients{nnb}?" in screen_text(app), screen_text(app)
                await pilot.press("n")  # keep editing
                await settle(pilot)
                assert app.screen is modal
                await pilot.press("f10")
                await settle(pilot)
                assert f"Quitter clinicast sans ajouter ces patients{nnb}?" in screen_text(app), screen_text(app)

    async def test_a_tab_key_typed_as_the_dialog_opens_is_kept(self, world):
        """Over SSH a key often arrives before the dialog has settled: F4 pressed as soon as
        the dialog shows must leave it on the CSV tab, with the cursor in its path field
        (found in CI: the first tab's late focus took the dialog back to it)."""
        from textual import events

        from tui.screens.add_patients import AddPatientsModal

        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            app.post_message(events.Key("a", "a"))
            for _ in range(100_000):  # not a pilot pause: that would let the dialog settle first
                if isinstance(app.screen, AddPatientsModal):
                    break
                await asyncio.sleep(0.001)
            app.post_message(events.Key("f4", None))  # before the dialog has processed its first focus
            await _on_csv_tab_settled(app, pilot)

    async def test_a_tab_key_typed_with_the_add_key_is_kept(self, world):
        """Typed ahead over SSH, `a` and F4 arrive in one burst, before any screen has
        drawn: F4 belongs to the dialog `a` opens (it went to the list beneath it)."""
        from textual import events

        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            app.post_message(events.Key("a", "a"))
            app.post_message(events.Key("f4", None))
            await _on_csv_tab_settled(app, pilot)

    async def test_a_tab_chosen_before_the_dialog_is_mounted_is_shown_once_it_is(self, world):
        """The F4 of a burst, dispatched again to the dialog, can outrun the dialog's own
        start: the tab is remembered and shown when the dialog is mounted (no crash on
        tabs not composed yet)."""
        from tui.screens.add_patients import AddPatientsModal

        cid = world.campaigns.invitation_draft
        async with campaign_open(world, cid) as (app, pilot):
            modal = AddPatientsModal(cid, "invitation")
            app.push_screen(modal)
            modal.action_tab("tab-csv")  # nothing awaited since the push: not mounted yet
            await _on_csv_tab_settled(app, pilot)
            assert app.screen is modal

    async def test_conditions_count_live_and_assign(self, world):
        cid = world.campaigns.invitation_draft
        async with campaign_open(world, cid) as (app, pilot):
            modal = await open_add(pilot, "tab-conditions")
            row = modal.query("ConditionRow").first()
            row.query_one(".cond-field").value = "connected_system"
            await settle(pilot, 0.4)
            row.query_one(".cond-op").value = "!="
            await settle(pilot, 0.4)
            expected = Patient.select().where(Patient.app_id.is_null(True)).count()
            assert await wait_for(pilot, lambda: f"{expected} match · " in screen_text(app))
            await pilot.press("ctrl+n")
            await settle(pilot)
            row2 = modal.query("ConditionRow").last()
            row2.query_one(".cond-field").value = "age"
            await settle(pilot, 0.4)
            row2.query_one(".cond-op").value = ">="
            await settle(pilot, 0.4)
            # a value still to type is no mistake: the row says nothing, the count waits
            assert await wait_for(pilot, lambda: "complete every row to count" in screen_text(app))
            assert not row2.query_one(".cond-error").display, row2.query_one(".cond-error").render()
            row2.query_one(".cond-value").value = "abc"
            await settle(pilot, 0.4)
            # the row says what is wrong, in the words of the row (its field's label)
            assert await wait_for(pilot, lambda: "Age >= abc: expected a whole number" in screen_text(app))
            row2.query_one(".cond-value").value = "18"
            await settle(pilot, 0.4)
            parts = [r.parts() for r in modal.query("ConditionRow")]
            assert parts == [("connected_system", "!=", "patient_app"), ("age", ">=", "18")]
            n = conditions.count(world.ctx, [conditions.make(*p) for p in parts])
            assert 0 < n < expected
            assert await wait_for(pilot, lambda: modal.match_count == n and f"{n} match · " in screen_text(app))
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)
            assert Recipient.select().where(Recipient.campaign == cid).count() == n

    async def test_the_conditions_button_and_notice_count_this_assign_only(self, world):
        """After one-patient adds in the same dialog, an assign by conditions: its button
        names the patients it adds (not all who match) and the notice says what it did,
        not the dialog's total."""
        from tui.screens.recipient_flows import assign_message

        cid = world.campaigns.invitation_draft
        cond = conditions.make("age", ">=", "65")
        old = Patient.id.in_(Patient.select(Patient.id).where(conditions.compile([cond], world.ctx.today())))
        young = Patient.select().where(~old, Patient.app_id.is_null(True), Patient.do_not_contact == False)  # noqa: E712
        one_added = young.where(Patient.email != "").order_by(Patient.id).first()
        one_skipped = young.where(Patient.email == "").order_by(Patient.id).first()
        assert one_added is not None and one_skipped is not None
        async with campaign_open(world, cid) as (app, pilot):
            modal = await open_add(pilot)
            for p in (one_added, one_skipped):
                await type_into(pilot, "#patient-query", p.emr_id)
                await pilot.press("down", "enter")
                await settle(pilot)
            assert modal.added is not None and (modal.added.added, modal.added.skipped) == (1, 1)
            modal.query_one("#add-tabs").active = "tab-conditions"
            await settle(pilot)
            row = modal.query("ConditionRow").first()
            row.query_one(".cond-field").value = "age"
            await settle(pilot, 0.4)
            row.query_one(".cond-op").value = ">="
            row.query_one(".cond-value").value = "65"
            await settle(pilot, 0.4)
            preview = recipients.preview_conditions(world.ctx, cid, [cond])
            assert 0 < preview.added < preview.matched and preview.skipped
            assert await wait_for(pilot, lambda: modal.match_count == preview.matched)
            assert str(modal.query_one("#assign-conditions").label) == f"Assign {preview.added}"
            app.clear_notifications()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)
            said = [n.message for n in app._notifications]
            expected = recipients.AssignResult(
                added=preview.added,
                skipped=preview.skipped,
                skipped_reasons=preview.skipped_reasons,
                skipped_added=preview.skipped_reasons,  # all new: added as skipped, with their reason
            )
            assert said == [assign_message(expected)]

    async def test_over_the_limit_is_refused_clearly(self, world):
        """5,001 patients match: the live count says so with core's one limit, and nothing is added."""
        from helpers import add_patients

        add_patients(recipients.LIMIT + 1, start=900000, sex="X")
        cid = world.campaigns.invitation_draft
        async with campaign_open(world, cid) as (app, pilot):
            modal = await open_add(pilot, "tab-conditions")
            row = modal.query("ConditionRow").first()
            row.query_one(".cond-field").value = "sex"
            await settle(pilot, 0.4)
            row.query_one(".cond-op").value = "="
            row.query_one(".cond-value").value = "X"
            await settle(pilot, 0.4)
            assert await wait_for(pilot, lambda: "more than 5,000, the most one assign adds" in screen_text(app))
            assert modal.query_one("#assign-conditions").disabled
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is modal
            assert Recipient.select().where(Recipient.campaign == cid).count() == 0

    async def test_a_csv_of_5001_is_refused_by_the_core(self, world):
        """The CSV path reaches the core's refusal (the TUI has no copy of the limit)."""
        from helpers import add_patients

        ids = add_patients(recipients.LIMIT + 1, start=900000)
        cid = world.campaigns.invitation_draft
        path = world.folder / "big.csv"
        path.write_text("emr_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
        async with campaign_open(world, cid) as (app, pilot):
            await open_add(pilot, "tab-csv")
            await type_into(pilot, "#csv-path", str(path))
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert await wait_for(pilot, lambda: "at most 5,000" in screen_text(app))
            assert Recipient.select().where(Recipient.campaign == cid).count() == 0

    async def test_csv_report_then_confirm(self, world):
        cid = world.campaigns.invitation_draft
        path = world.folder / "list.csv"
        path.write_text("emr_id\n100001\n100002\n424242\n100002\n\n100003\n", encoding="utf-8")
        async with campaign_open(world, cid) as (app, pilot):
            modal = await checked_csv(pilot, str(path))
            report = str(modal.query_one("#csv-report").render())
            assert "3 patients found" in report
            assert "line 4 “424242”" in report and "line 5 (as line 3)" in report
            assert Recipient.select().where(Recipient.campaign == cid).count() == 0  # not before confirming
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen), str(modal.query_one("#add-message").render())
            got = {r.patient.emr_id for r in Recipient.select().where(Recipient.campaign == cid)}
            assert got == {"100001", "100002", "100003"}

    async def test_typing_after_a_check_edits_the_path_never_assigns_the_old_file(self, world):
        """After a check the cursor is on Assign. A receptionist who then types another
        file's name lost every key (a button takes no text) and her enter assigned the file
        checked before; now what she types goes to the path, which cancels the report."""
        cid = world.campaigns.invitation_draft
        first = world.folder / "a.csv"
        first.write_text("emr_id\n100001\n100002\n", encoding="utf-8")
        async with campaign_open(world, cid) as (app, pilot):
            modal = await checked_csv(pilot, str(first))
            assert await wait_for(pilot, lambda: not modal.query_one("#assign-csv").disabled)
            await pilot.press("ctrl+u", *"b.csv", "backspace", "v")
            await settle(pilot)
            assert modal.query_one("#csv-path").value == "b.csv"
            assert modal.query_one("#assign-csv").disabled and modal.report is None
            assert str(modal.query_one("#assign-csv").label) == "Assign"  # no count of a.csv's 2 left
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is modal
            assert "b.csv" in str(modal.query_one("#csv-report").render())  # not found, beside the path
            assert Recipient.select().where(Recipient.campaign == cid).count() == 0

    async def test_csv_that_cannot_be_read_says_why(self, world):
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            modal = await checked_csv(pilot, str(world.folder / "nope.csv"))
            assert "nope.csv" in str(modal.query_one("#csv-report").render())

    async def test_a_file_refused_is_said_under_its_path_at_80x24(self, world):
        """The line that names the file's bad row shows right under the path she typed —
        not at the foot of the dialog, past the folder tree, 16 lines from where her eye is."""
        bad = world.folder / "export.csv"
        bad.write_bytes("No dossier;Nom\r\n100001;Côté\r\n100002;Ga\x00gné\r\n".encode("cp1252"))
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            modal = await checked_csv(pilot, str(bad))
            lines = screen_lines(app).splitlines()
            path_at = [i for i, line in enumerate(lines) if "Check" in line]  # the path's row
            said_at = [i for i, line in enumerate(lines) if "NUL byte" in line]
            assert path_at and said_at and 0 < said_at[0] - path_at[0] <= 3, "\n".join(lines)
            assert modal.query_one("#assign-csv").disabled


class TestRemoveAndStart:
    async def test_remove_says_what_happens_then_removes(self, world):
        cid = world.campaigns.broadcast_live
        r = (
            Recipient.select()
            .where(Recipient.campaign == cid, Recipient.status == "assigned")
            .order_by(Recipient.id)
            .first()
        )
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            screen.table.move_cursor(row=screen.table.order.index(r.id))
            await pilot.press("x")
            await settle(pilot)
            text = screen_text(app)
            assert "will not receive the push notification" in text
            assert "removed from their Broadcasts feed" in text  # a live broadcast
            await pilot.press("n")
            await settle(pilot)
            assert Recipient.get_by_id(r.id).status == "assigned"
            await pilot.press("x")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert Recipient.get_by_id(r.id).status == "removed"
            row = screen.query_one("DataTable").get_row(str(r.id))
            assert str(row[-1]).startswith("removed")

    async def test_start_shows_the_breakdown_then_progress(self, world):
        from core.scheduling.heartbeat import DAEMON, beat

        cid = world.campaigns.broadcast_live
        beat("host:1", DAEMON, world.ctx.now())  # a daemon alive: they go now (else they wait for one)
        plan = recipients.start_plan(world.ctx, cid)
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            await pilot.press("s")
            await settle(pilot)
            text = screen_text(app)
            assert f"{plan.will_send} push notifications will go out now." in text
            for why, n in plan.skipped.items():
                assert counted(why, n) in text
            await pilot.press("y")
            await settle(pilot)
            assert (
                Recipient.select().where(Recipient.campaign == cid, Recipient.status == "queued").count()
                == plan.will_send
            )
            assert Campaign.get_by_id(cid).first_started_at is not None
            assert screen.query_one("#progress-row").display and "Sending: 0 of" in screen_text(app)
            assert f"queued {plan.will_send}" in screen_text(app)

    async def test_start_with_nothing_waiting_says_so(self, world):
        async with campaign_open(world, world.campaigns.invitation_sent) as (app, pilot):
            await pilot.press("s")
            await settle(pilot)
            assert isinstance(app.screen, RecipientsScreen)
            # core's words, as the command line says them, then where to go from here
            said = [n.message for n in app._notifications]
            cid = world.campaigns.invitation_sent
            assert any(
                m.startswith(f"Nothing to start: no recipient of campaign {cid} is waiting (")
                and m.endswith("). Press a to add patients.")
                for m in said
            ), said

    async def test_the_hints_name_the_add_key_the_config_bound(self, world):
        """« Press a to add patients »: `a` was written in the hint, whatever the config's
        [keys] bound; the hints name the key that adds, and the palette's keys too."""
        text = world.config_path.read_text(encoding="utf-8")
        keys = '"recipients.add" = "g"\n"recipients.stop" = "ctrl+k"\n'
        world.config_path.write_text(text + "\n[keys]\n" + keys, encoding="utf-8")
        async with campaign_open(world, world.campaigns.invitation_sent) as (app, pilot):
            await pilot.press("s")
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert any(m.endswith("). Press g to add patients.") for m in said), said
            stop = [name for name, _help, _do in app.screen.palette_commands() if name.startswith("Stop sending")]
            assert stop == [f"Stop sending ({app.get_key_display(Binding('ctrl+k', 'x'))})"], stop
            await pilot.press("g")
            await settle(pilot)
            assert type(app.screen).__name__ == "AddPatientsModal"


@pytest.fixture
def big_world(tmp_path, as_mlaval):
    w = make_world(tmp_path / "big", n_patients=520, populate=False)
    from core import demo

    demo.add_patients(w.ctx, 520, folder=w.folder)
    c = campaigns_mod.create(w.ctx, "invitation", "Big")
    recipients.assign_ids(w.ctx, c.id, [str(100001 + i) for i in range(520)])
    return w, c


class TestRecipientTablePaging:
    async def test_pages_and_search(self, big_world):
        w, c = big_world
        app = app_for(w)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            from tui.widgets.recipient_table import PAGE

            screen = await open_campaign(pilot, c.id)
            table = screen.table
            assert len(table.order) == PAGE and table.more  # one page, not 520 rows
            table.move_cursor(row=PAGE - 10)
            await settle(pilot)
            assert len(table.order) == 2 * PAGE  # the next page, by keyset
            await pilot.press("slash", "1", "0", "0", "5", "1", "0")
            await settle(pilot)
            assert [table.loaded[i].emr_id for i in table.order] == ["100510"]
            await pilot.press("escape")
            await settle(pilot)
            assert len(table.order) == PAGE


@pytest.fixture
def live_world(tmp_path, as_mlaval):
    """Real time and the embedded scheduler with local sinks (maildir, gateway log)."""
    from core.models import utcnow

    return make_world(tmp_path / "live", n_patients=40, embedded="always", clock=utcnow)


class TestSendingThroughTheEmbeddedScheduler:
    async def test_invitation_start_and_watch_sent_arrive(self, live_world):
        w = live_world
        cid = w.campaigns.invitation_draft
        app = app_for(w, scheduler=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert await wait_for(pilot, lambda: app.scheduler is not None)
            screen = await open_campaign(pilot, cid)
            modal = await open_add(pilot, "tab-conditions")
            row = modal.query("ConditionRow").first()
            row.query_one(".cond-field").value = "connected_system"
            await settle(pilot, 0.4)
            row.query_one(".cond-op").value = "!="
            await settle(pilot, 0.4)
            await pilot.press("ctrl+s")
            await settle(pilot)
            plan = recipients.start_plan(w.ctx, cid)
            assert plan.will_send > 0
            await pilot.press("s")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            # the counts at the top follow by themselves, no key pressed
            assert await wait_for(pilot, lambda: screen.summary.counts.get("sent") == plan.will_send)
            await settle(pilot)
            assert f"sent {plan.will_send}" in screen_text(app)
            assert (
                Recipient.select().where(Recipient.campaign == cid, Recipient.status == "sent").count()
                == plan.will_send
            )
            assert len(list((w.folder / "maildir").rglob("*.eml"))) >= plan.will_send
            assert not screen.query_one("#progress-row").display
            assert "this session" in screen_text(app)  # who sends (the embedded scheduler), in short at this width

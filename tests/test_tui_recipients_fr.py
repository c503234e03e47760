"""The recipient screens in the staff's language (issue #17, SPEC §12): switched from the
palette, every word they drew is redrawn; in French at 80 columns their lines still fit."""

from __future__ import annotations

import pytest
from tui_helpers import (
    app_for,
    campaign_open,
    copy_world,
    module_world,
    open_campaign,
    rendered,
    screen_text,
    settle,
    wait_for,
)

from core import i18n
from tui.screens.audit import AuditScreen

pytestmark = pytest.mark.anyio


base_world = module_world("recipients_fr", n_patients=60)


@pytest.fixture
def world(base_world, tmp_path, as_mlaval):
    world = copy_world(base_world, tmp_path / "w")
    yield world
    i18n.use("en")


def headers(table) -> list[str]:
    return [str(c.label) for c in table.columns.values()]


def footer_words(screen) -> str:
    from textual.widgets._footer import FooterKey

    return " ".join(str(k.description) for k in screen.query(FooterKey))


async def test_switching_language_redraws_the_recipient_screen(world):
    async with campaign_open(world, world.campaigns.broadcast_live, size=(120, 40)) as (app, pilot):
        screen = app.screen
        assert "Status" in headers(screen.table) and "total" in screen_text(app)
        app.switch_language("fr")
        await settle(pilot)
        assert headers(screen.table)[:3] == ["Dossier", "Nom", "Ajouté"]
        text = screen_text(app)
        assert "diffusion" in text and "publiée" in text and "assigné" in text
        assert "affichés" in text and "entrée\u00a0: tout sur le destinataire choisi" in text
        assert "Détail" in footer_words(screen) and "Ajouter" in footer_words(screen)
        app.switch_language("en")
        await settle(pilot)
        assert headers(screen.table)[:3] == ["EMR id", "Name", "Added"] and "broadcast" in screen_text(app)


async def test_the_audit_screen_switches_too(world):
    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        app.switch_language("fr")
        await settle(pilot)
        table = screen.query_one("DataTable")
        assert headers(table)[:4] == ["Ligne", "Quand", "Qui", "Quoi"]
        assert screen.title == "Journal d'audit" and "entrées" in screen_text(app)


async def test_in_french_at_80_columns_the_campaign_line_is_not_cut(world):
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_language("fr")
        await settle(pilot)
        screen = await open_campaign(pilot, world.campaigns.broadcast_live)
        info = screen.query_one("#campaign-info")
        line = "".join(seg.text for seg in info.render_lines(info.region.reset_offset)[0])
        assert "période" in line and "→" in line and "…" not in line, line


# --- a receptionist at 80×24 in French, on a broadcast whose window opens tomorrow ------


def upcoming_broadcast(world) -> int:
    """The reviewer's campaign: a broadcast whose window opens tomorrow, given to every
    patient on the app with consent (some have push notifications off)."""
    from datetime import timedelta

    from core import campaigns, demo, preferences, recipients

    ctx = world.ctx
    today = ctx.today()
    b = campaigns.create(
        ctx,
        "broadcast",
        "Demain",
        starts_on=today + timedelta(days=1),
        ends_on=today + timedelta(days=10),
        templates=demo.BROADCAST_TEMPLATES,
    )
    recipients.assign_conditions(
        ctx, b.id, [demo.where("connected_system = patient_app"), demo.where("marketing_consent = yes")]
    )
    preferences.set_language(ctx, "fr")
    return b.id


def counts_line(app) -> str:
    return str(app.screen.query_one("#counts").render())


async def test_an_opt_out_before_the_start_shows_in_the_row_the_counts_and_the_detail(world):
    """`o` on a recipient, « tout », a note, ^o: the row still read « assigné », the
    header « assigné 40 », the detail nothing — staff believed the opt-out did not take."""
    from textual.widgets import RadioButton

    from tui.screens.opt_out import OptOutModal
    from tui.screens.recipient_detail import RecipientDetailModal

    cid = upcoming_broadcast(world)
    async with campaign_open(world, cid) as (app, pilot):
        screen = app.screen
        row = screen.selected_row()
        assert row is not None and row.shown_status == "assigned"
        n = int(counts_line(app).split("assigné ")[1].split()[0])
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OptOutModal)
        app.screen.query(RadioButton).last().value = True  # « tout »
        await pilot.press("tab", *"au téléphone", "ctrl+o")
        await settle(pilot)
        assert await wait_for(pilot, lambda: "ne recevra rien 1" in counts_line(app)), counts_line(app)
        assert f"assigné {n - 1} " in counts_line(app)  # counted once, under its own words
        status = str(screen.table.get_row(str(row.id))[-1])
        assert status.startswith("ne recevra rien · désabonné des messages de l'application le"), status
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RecipientDetailModal)
        text = rendered(app.screen.query_one("#recipient-detail-body"))
        assert "Statut ne recevra rien" in text and "(noté par le personnel)" in text, text


async def test_the_start_dialog_says_when_they_leave_and_who_goes_without_the_push(world):
    """« Seront envoyées : 40 (notifications), à l'ouverture de la période : partira à
    partir de mardi 00:00 » and « Exclus : 20 · notifications désactivées » for patients
    who do get the message in their feed; after the start « 20 exclus (à l'ouverture…) »."""
    from core import recipients
    from core.scheduling.heartbeat import DAEMON, beat
    from tui.screens.modals import ConfirmModal

    cid = upcoming_broadcast(world)
    beat("host:1", DAEMON, world.clock())  # a daemon alive (nothing sending: no moment is promised)
    plan = recipients.start_plan(world.ctx, cid)
    assert plan.will_send and set(plan.skipped) == {"push_off"}
    n, off = plan.will_send, plan.skipped["push_off"]
    async with campaign_open(world, cid) as (app, pilot):
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        text = screen_text(app)
        # 2 June 2025 is a Monday: the window opens on Tuesday
        assert f"{n} notifications partiront mardi 3 juin à 00:00, à l'ouverture de la période." in text, text
        assert (
            f"Sans notification\u00a0: {off} (le message s'affiche quand même dans leur fil)\n"
            f"  {off} avec les notifications désactivées"
        ) in text, text
        assert "xclu" not in text and "partira à partir" not in text, text
        await pilot.press("y")
        await settle(pilot)
        said = [m.message for m in app._notifications]
        assert said and said[-1].startswith(f"{n} notifications partiront mardi 3 juin à 00:00"), said
        assert "xclu" not in said[-1] and f"Sans notification\u00a0: {off}" in said[-1], said
        label = str(app.screen.query_one("#progress-label").render()).strip()
        assert label == "Les notifications partiront mardi 3 juin à 00:00, à l'ouverture de la période", label


async def test_down_from_the_search_goes_to_the_rows_it_found(world):
    """`/ Proulx ↓ o` typed « o » into the search box: ↓ did nothing there (in the
    add-patients dialog it goes to the results). ↓, as enter, goes to the list, and the
    footer says so; in the list ↓ still moves the cursor."""
    from textual.widgets._footer import FooterKey

    from tui.screens.opt_out import OptOutModal

    cid = world.campaigns.broadcast_live
    async with campaign_open(world, cid) as (app, pilot):
        screen = app.screen
        assert screen.table.cursor_row == 0
        await pilot.press("down")
        assert screen.table.cursor_row == 1 and app.focused is screen.table  # the list's own ↓
        target = screen.table.loaded[screen.table.order[3]]
        last_name = target.name.split()[-1]
        await pilot.press("slash", *last_name)
        await settle(pilot)
        box = screen.query_one("#search")
        assert app.focused is box
        keys = {str(k.key_display): str(k.description) for k in screen.query(FooterKey)}
        assert keys.get("↓") == "To the list", keys
        await pilot.press("down")
        await settle(pilot)
        assert app.focused is screen.table and box.value == last_name
        assert screen.selected_row() is not None and last_name in screen.selected_row().name
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OptOutModal) and box.value == last_name


async def test_o_for_oui_confirms_in_french_and_the_footer_says_so(world):
    """The confirm key was `y`: a French user presses `o` (oui) and nothing happened."""
    from textual.widgets._footer import FooterKey

    from core.models import Recipient
    from tui.screens.modals import ConfirmModal

    cid = world.campaigns.broadcast_live
    async with campaign_open(world, cid) as (app, pilot):
        first = app.screen.selected_row()
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        keys = {str(k.key_display): str(k.description) for k in app.screen.query(FooterKey)}
        assert keys.get("y") == "Remove" and "o" not in keys, keys
        await pilot.press("o")  # in English: not a key of the dialog
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        app.switch_language("fr")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        keys = {str(k.key_display): str(k.description) for k in app.screen.query(FooterKey)}
        assert keys.get("o") == "Retirer" and keys.get("n/échap") == "Annuler", keys
        await pilot.press("o")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert await wait_for(pilot, lambda: Recipient.get_by_id(first.id).status == "removed")
        await pilot.press("down")
        second = app.screen.selected_row()
        assert second is not None and second.id != first.id
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")  # y still confirms
        await settle(pilot)
        assert await wait_for(pilot, lambda: Recipient.get_by_id(second.id).status == "removed")


async def test_at_80_columns_the_audit_row_s_note_is_read_whole(world):
    """A patient calls about a message she had opted out of; the manager reads the note
    of the opt-out recorded at the desk in the audit trail. Under the table the row's
    detail stopped at 4 lines: a note of a few sentences (up to 500 characters) lost its
    end, with no way to read it on the screen."""
    import html
    import re

    from core.models import Patient
    from core.optouts import ledger

    emr_id = Patient.select().order_by(Patient.id).first().emr_id
    note = (
        "La patiente a appelé vers 14 h : elle a reçu l'invitation par courriel alors qu'elle avait demandé "
        "à la réception, il y a deux semaines, de ne plus recevoir aucun message de la clinique ; elle veut "
        "une confirmation écrite et le nom de la personne qui a lancé l'envoi. Rappeler au 514-555-0199 "
        "avant vendredi, demander à la gestionnaire."
    )
    note = (note + " Suite de la note." * 10)[: ledger.NOTE_MAX - len(" Zanzibar")] + " Zanzibar"  # the longest
    ledger.record(world.ctx, emr_id, "all", note)
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_language("fr")
        await pilot.press("l")
        assert await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        assert await wait_for(pilot, lambda: app.screen.query_one("DataTable").row_count > 0)
        await settle(pilot)
        svg = app.export_screenshot()
        shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", t)) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg))
        assert "Zanzibar" in shown, shown[-600:]

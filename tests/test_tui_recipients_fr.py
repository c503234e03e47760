"""The recipient screens in the staff's language (issue #17, SPEC §12): switched from the
palette, every word they drew is redrawn; in French at 80 columns their lines still fit."""

from __future__ import annotations

import pytest
from tui_helpers import app_for, campaign_open, copy_world, module_world, open_campaign, screen_text, settle

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

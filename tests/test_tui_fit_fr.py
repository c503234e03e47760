"""Nothing a receptionist needs is cut at 80×24 in French (a review of `clinicast demo`
under LANG=fr_CA.UTF-8): a count keeps its number, the search box says its keys, a
recipient's whole reason is one key away. Read on the screen as drawn (its compositor's lines)."""

from __future__ import annotations

import pytest
from pseudo import screen_lines
from tui_helpers import (
    campaign_open,
    copy_world,
    module_world,
    rendered,
    settle,
    users_toml,
    write_config,
)

from core import i18n, recipients
from core.rules import FEED_ONLY
from tui.screens.recipient_detail import RecipientDetailModal

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


class TestSearchBox:
    async def test_its_keys_are_said_whole_and_stay_while_typing(self, world):
        """Was « (entrée : retour au tableau, échap : » — cut in the placeholder, which
        went anyway at the first letter typed."""
        async with campaign_open(world, world.campaigns.broadcast_live) as (app, pilot):
            await pilot.press("slash")
            await settle(pilot)
            screen = app.screen
            keys, placeholder = (w.replace("\xa0", " ") for w in (screen._search_keys(), screen._placeholder()))
            assert keys == "entrée : retour au tableau · échap : effacer"
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

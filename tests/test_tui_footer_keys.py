"""Keys staff can find: at 80×24 each screen's footer shows the keys its users need most
(the screen's FOOTER_ORDER), `?` the rest; a hint that names a key names the one bound.
Read on the footer as drawn (its last line), in English; French in test_tui_fit_fr.py."""

from __future__ import annotations

import pytest
from pseudo import screen_lines
from tui_helpers import app_for, campaign_open, copied_world, module_world, open_add, rendered, select, settle

from tui.screens.keys import KeysScreen

pytestmark = pytest.mark.anyio

base_world = module_world("footer_keys", n_patients=40)
world = copied_world


def footer_line(app) -> str:
    return screen_lines(app, background=True).split("\n")[app.size.height - 1]


def drawn_keys(app) -> dict[str, str]:
    """The keys the footer draws whole within 80 columns: key as shown -> its words."""
    from textual.widgets._footer import FooterKey

    return {
        str(k.key_display): str(k.description)
        for k in app.screen.query(FooterKey)
        if k.region.width and k.region.right <= app.size.width and k.region.y == app.size.height - 1
    }


class TestRecipients:
    async def test_search_opt_out_and_export_are_in_the_footer(self, world):
        """Was « ⏎ Detail a Add s Start S Stop T Test x Remove o Opt-out i Re-invite ? +6
        keys »: `/` search and `E` export were behind `?`, and in French `o` too."""
        async with campaign_open(world, world.campaigns.invitation_sent) as (app, pilot):
            keys = drawn_keys(app)
            for key, words in {
                "/": "Search",
                "o": "Opt-out",
                "a": "Add",
                "x": "Remove",
                "s": "Start",
                "S": "Stop",
                "E": "Export",
                "⏎": "Detail",
            }.items():
                assert keys.get(key) == words, (key, footer_line(app))
            line = footer_line(app)
            assert line.startswith("/ Search o Opt-out a Add x Remove"), line  # the most needed first
            assert line.rstrip().endswith("? +6 keys"), line  # T i t e r esc: `?` lists them

    async def test_the_keys_screen_lists_them_in_the_footer_s_order(self, world):
        """`?` starts with what the footer shows; the keys it left out follow."""
        async with campaign_open(world, world.campaigns.invitation_sent) as (app, pilot):
            shown = list(drawn_keys(app))
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, KeysScreen)
            table = rendered(app.screen.query_one("#keys-table"), width=96)
            # a key's first line ends with its id ("recipients.search"); wrapped words do not
            listed = [line.split()[0] for line in table.splitlines() if line.split()[-1].startswith("recipients.")]
            assert listed[: len(shown)] == shown, (listed, shown)


class TestAddPatients:
    async def test_every_tab_key_shows_on_the_conditions_tab(self, world):
        """Was « esc Close ^o Assign ^n New condition f2 One patient f3 Conditions ? +1
        key »: f4 (the CSV file) was left out for f3, the tab already shown."""
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            await open_add(pilot, "tab-conditions")
            keys = drawn_keys(app)
            assert {"^o", "^n", "f2", "f4"} <= set(keys), footer_line(app)
            assert "f3" not in keys, footer_line(app)  # the tab shown
            await pilot.press("f4")
            await settle(pilot)
            assert app.screen.active_tab() == "tab-csv"
            assert {"f2", "f3"} <= set(drawn_keys(app)) and "f4" not in drawn_keys(app), footer_line(app)

    async def test_the_conditions_hint_names_the_key_the_footer_shows(self, world):
        """Was "ctrl+n adds a row" while the footer said ^n."""
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            modal = await open_add(pilot, "tab-conditions")
            hint = str(modal.query_one("#conditions-hint").content)
            assert "^n adds a row" in hint, hint
            assert drawn_keys(app).get("^n") == "New condition"

    async def test_the_hint_names_the_key_the_config_binds(self, world):
        """[keys] moves the key: the hint names the one that works."""
        text = world.config_path.read_text()
        world.config_path.write_text(text + '\n[keys]\n"add.new_condition" = "ctrl+k"\n')
        async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
            modal = await open_add(pilot, "tab-conditions")
            hint = str(modal.query_one("#conditions-hint").content)
            assert "^k adds a row" in hint and "^n" not in hint, hint
            assert drawn_keys(app).get("^k") == "New condition", footer_line(app)


class TestTemplateEditor:
    async def test_save_variable_test_preview_and_formatting_come_first(self, world):
        """Was « ^o Save esc Back f2 Variable f3 Preview for f6 Text part f5 Test f1 +4
        keys »: bold and italic behind `?`, esc (the same on every screen) in their place."""
        app = app_for(world)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await select(pilot, world.campaigns.invitation_draft)
            await pilot.press("t")
            await settle(pilot, 0.35)
            line = footer_line(app)
            assert line.startswith("^o Save f2 Variable f5 Test f3 Preview for ^g Bold ^t Italic"), line
            assert line.rstrip().endswith("f1 +4 keys"), line

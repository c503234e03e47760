"""Nothing left behind (issue #17 item 3, SPEC §12): every screen rendered in a pseudo-locale
where each translated string reads ⟦…⟧; any word outside the wrappers that is not patient
or campaign data was never translated, and fails here. The scanning: tests/pseudo.py."""

from __future__ import annotations

from pseudo import leak_report, leaks, outside, speaking_pseudo

from core import i18n
from core.i18n import _, ngettext, pgettext


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

    def test_month_names_and_keys(self):
        """core.formats shows the pseudo-locale as English: Babel's month names are not ours."""
        assert leaks("Jun 2, 2025, 12:00 · Sep 30 · ctrl+p f10 tab", []) == []


class TestThePseudoLocale:
    def test_every_msgid_is_wrapped(self, pseudo_locale):
        assert i18n.current() == "pseudo"
        assert _("commands") == "⟦commands⟧"
        assert ngettext("{n} patient", "{n} patients", 1).format(n=1) in ("⟦1 patient⟧", "1 patient")
        assert _("not a msgid, never extracted") == "not a msgid, never extracted"

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

"""Core's words in the staff's language (#17): reasons, statuses, refusals, file and date
problems read in French when French is spoken, and --json's English left as it was."""

from __future__ import annotations

from datetime import date

import pytest

from core import conditions, dates, i18n, reasons, words
from core.errors import BadInput
from core.sending_hours import DAY_WORDS


@pytest.fixture
def french():
    before = i18n.current()
    i18n.use("fr")
    yield
    i18n.use(before)


def test_reasons_in_french_and_json_s_english_kept(french):
    assert reasons.describe("no_email") == "sans adresse courriel"
    assert reasons.describe("no_email", language="en") == "no email address"
    detail = reasons.opt_out_detail(date(2026, 12, 3), "link")
    assert (
        reasons.describe("opted_out_email", detail) == "désabonné des courriels le 3 déc. 2026 (lien de désabonnement)"
    )
    # --json's reason_text: the spec's English, the day as stored
    assert reasons.describe("opted_out_email", detail, "en") == "opted out of email on 2026-12-03 (unsubscribe link)"
    assert reasons.describe("send_error", "550 no such user") == "550 no such user"  # the server's own words
    assert reasons.describe("a_code_from_a_newer_version", "what we have") == "what we have"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_skip_reason_says_the_same_words_for_one_patient_and_for_a_count(language):
    """The recipient table said « pas d'adresse courriel », the assign's summary « 3 sans
    adresse courriel »: a consent rule's reason is one wording, for a patient and a count
    (what a label adds in parentheses aside)."""
    from core.rules import RULES

    before = i18n.current()
    i18n.use(language)
    try:
        for code in [rule.reason for rule in RULES]:
            label = reasons.describe(code).split(" (")[0]
            assert label in reasons.counted(code, 1), (code, label, reasons.counted(code, 1))
    finally:
        i18n.use(before)


def test_status_words_one_english_word_two_french_ones(french):
    assert words.word("campaign", "sent") == "envoyée"
    assert words.word("recipient", "sent") == "envoyé"
    assert words.word("kind", "broadcast") == "diffusion"
    assert words.word("recipient", "not a status") == "not a status"


def test_date_and_condition_problems_in_french(french):
    with pytest.raises(dates.DateProblem) as e:
        dates.parse("9999-12-31")
    assert str(e.value) == "une date du 1900-01-01 au 2200-12-31"
    with pytest.raises(conditions.ConditionError) as c:
        conditions.parse("age >= old")
    assert str(c.value) == "age >= old\u00a0: attendu un nombre entier d'années"


def test_a_refusal_in_english_stays_english():
    assert i18n.current() == "en"
    with pytest.raises(dates.DateProblem, match="a date from 1900-01-01 to 2200-12-31"):
        dates.parse("9999-12-31")


def test_csv_problems_in_french(french, tmp_path):
    from core import csvio

    p = tmp_path / "vide.csv"
    p.write_bytes(b"")
    with pytest.raises(BadInput) as e:
        csvio.read_table(p)
    assert "le fichier est vide" in str(e.value)


def test_start_wording_follows_the_language(french):
    assert DAY_WORDS["en"][0] == "Monday"  # --json's words stay English (core.sending_hours)
    from core import formats

    assert formats.weekday(date(2026, 12, 7)) == "lundi"


def test_one_recipient_agrees_to_the_end_of_the_sentence(french):
    """Found in French: « 1 destinataire parle anglais … : ils recevront »."""
    from core.campaigns.languages import LanguageGap

    assert str(LanguageGap("en", "fr", 1, "recipients")) == (
        "1 destinataire parle anglais et la version en anglais est vide\u00a0: "
        "ce destinataire recevra celle en français"
    )
    assert str(LanguageGap("en", "fr", 2, "recipients")).endswith("est vide\u00a0: ils recevront celle en français")
    assert str(LanguageGap("en", "fr", 1, "directory")).endswith("vide\u00a0: ce patient recevra celle en français")


def test_a_breakdown_s_reason_agrees_with_its_count(french):
    """Found in the start dialog: « 2  désabonné des messages » (no plural, two spaces)."""
    from core.recipients.results import StartPlan

    assert reasons.counted("opted_out_feed", 2) == "2 désabonnés des messages de l'application"
    assert reasons.counted("opted_out_feed", 1) == "1 désabonné des messages de l'application"
    plan = StartPlan(will_send=3, skipped={"opted_out_feed": 2, "push_off": 1}, kind="broadcast")
    lines = plan.left_out_lines()
    assert "  2 désabonnés des messages de l'application" in lines and "  1 avec les notifications désactivées" in lines
    assert not any("  " in line.strip() for line in lines), lines

"""A count said in a sentence agrees with its number (SPEC §12): a stop said « Arrêtée : 1
non envoyés », one sentence holding three counts with a fixed plural. Each count is its
own `ngettext` (French: 1 is singular, 2 is not), the sentence a frame around them, and
the TUI says the refusals in core's words, the command line's (one wording per thing).

The French is a catalogue of these entries only (`helpers.speaking_french`), as the .po
will say them: the test reads the code's choice of form, not the .po's state."""

from __future__ import annotations

from datetime import datetime

import pytest
from helpers import speaking_french

from core import recipients
from core.models import Campaign
from core.recipients import StartPlan, StopResult
from core.recipients.stop import nothing_to_stop
from core.words import funnel_steps
from tui.screens.sending import stop_message

NB, NNB = "\u00a0", "\u202f"
ASSIGNED = f"«{NB}assigné{NB}»"
ASSIGNED_MANY = f"«{NB}assignés{NB}»"
FR = {
    "Stopped: {not_sent}, {in_flight}, {sent}": f"Arrêtée{NB}: {{not_sent}}, {{in_flight}}, {{sent}}",
    ("{n} not sent (back to assigned; a start sends to them)",) * 2: (
        f"{{n}} non envoyé (son destinataire redevient {ASSIGNED}{NNB}; un prochain démarrage le lui enverra)",
        f"{{n}} non envoyés (leurs destinataires redeviennent {ASSIGNED_MANY}{NNB}; "
        "un prochain démarrage les leur enverra)",
    ),
    ("{n} being sent at this moment (it finishes)", "{n} being sent at this moment (they finish)"): (
        "{n} en cours d'envoi à cet instant (il se termine)",
        "{n} en cours d'envoi à cet instant (ils se terminent)",
    ),
    ("{n} already sent",) * 2: ("{n} déjà envoyé", "{n} déjà envoyés"),
    ("{n} being sent at this moment",) * 2: ("{n} en cours d'envoi à cet instant",) * 2,
    "nothing to stop: no message of campaign {id} is waiting to be sent ({sent}, {in_flight})": (
        f"rien à arrêter{NB}: aucun message de la campagne {{id}} n'attend d'être envoyé ({{sent}}, {{in_flight}})"
    ),
    "nothing to re-invite: no invitation of campaign {id} expired unanswered that may be sent "
    "again ({forbidden}); {before}": (
        f"rien à réinviter{NB}: aucune invitation de la campagne {{id}} expirée sans réponse ne peut être "
        f"renvoyée ({{forbidden}}){NNB}; {{before}}"
    ),
    ("{n} forbidden by a consent rule or opt-out",) * 2: (
        "{n} interdite par une règle de consentement ou un désabonnement",
        "{n} interdites par une règle de consentement ou un désabonnement",
    ),
    ("{n} re-invited before",) * 2: ("{n} déjà réinvité", "{n} déjà réinvités"),
    "nothing to start: no recipient of campaign {id} is waiting ({sent}, {busy})": (
        f"rien à démarrer{NB}: aucun destinataire de la campagne {{id}} n'attend ({{sent}}, {{busy}})"
    ),
    ("{n} in progress",) * 2: ("{n} en cours",) * 2,
    ("Not re-invited now: {n}",) * 2: (f"Pas réinvité maintenant{NB}: {{n}}", f"Pas réinvités maintenant{NB}: {{n}}"),
    ("Re-invited before (not sent again): {n}",) * 2: (
        f"Déjà réinvité (pas renvoyé){NB}: {{n}}",
        f"Déjà réinvités (pas renvoyés){NB}: {{n}}",
    ),
    ("Will be sent a fresh invitation (new code, {days} days): {n}, now",) * 2: (
        f"Recevra une nouvelle invitation (nouveau code, {{days}} jours){NB}: {{n}}, maintenant",
        f"Recevront une nouvelle invitation (nouveau code, {{days}} jours){NB}: {{n}}, maintenant",
    ),
    ("Already sent (not sent again): {n}",) * 2: (
        f"Déjà envoyé (pas envoyé de nouveau){NB}: {{n}}",
        f"Déjà envoyés (pas envoyés de nouveau){NB}: {{n}}",
    ),
    ("Being sent now: {n}",) * 2: (f"En cours d'envoi{NB}: {{n}}",) * 2,
    ("Being sent at this moment: {n} (it finishes)", "Being sent at this moment: {n} (they finish)"): (
        f"En cours d'envoi à cet instant{NB}: {{n}} (il se termine)",
        f"En cours d'envoi à cet instant{NB}: {{n}} (ils se terminent)",
    ),
    ("Already sent: {n}",) * 2: (f"Déjà envoyé{NB}: {{n}}", f"Déjà envoyés{NB}: {{n}}"),
    ("{n} invited",) * 2: ("{n} invité", "{n} invités"),
    ("{n} joined",) * 2: ("{n} inscrit", "{n} inscrits"),
    ("{n} expired",) * 2: ("{n} expiré", "{n} expirés"),
    ("{n} re-invited",) * 2: ("{n} réinvité", "{n} réinvités"),
    (
        "Not sent, cancelled now: {n} email (its patient goes back to “assigned”: a later start sends to them)",
        "Not sent, cancelled now: {n} emails (those patients go back to “assigned”: a later start sends to them)",
    ): (
        f"Pas envoyé, annulé maintenant{NB}: {{n}} courriel (son patient redevient "
        f"{ASSIGNED}{NB}: un prochain démarrage le lui enverra)",
        f"Pas envoyés, annulés maintenant{NB}: {{n}} courriels (ces patients redeviennent "
        f"{ASSIGNED_MANY}{NB}: un prochain démarrage les leur enverra)",
    ),
}


@pytest.fixture
def french(tmp_path):
    with speaking_french(tmp_path, FR):
        yield


def test_a_stop_says_each_count_in_its_number_in_english():
    said = StopResult(stopped=1, already_sent=1, in_flight=1).words()
    assert said == (
        "Stopped: 1 not sent (back to assigned; a start sends to them), "
        "1 being sent at this moment (it finishes), 1 already sent"
    )


def test_a_stop_says_each_count_in_its_number_in_french(french):
    one = StopResult(stopped=1, already_sent=1, in_flight=1).words()
    assert one == (
        f"Arrêtée{NB}: 1 non envoyé (son destinataire redevient {ASSIGNED}{NNB}; un prochain démarrage le lui "
        "enverra), 1 en cours d'envoi à cet instant (il se termine), 1 déjà envoyé"
    )
    mixed = StopResult(stopped=2, already_sent=1, in_flight=3).words()
    assert mixed.startswith(f"Arrêtée{NB}: 2 non envoyés (leurs destinataires redeviennent {ASSIGNED_MANY}")
    assert mixed.endswith(", 3 en cours d'envoi à cet instant (ils se terminent), 1 déjà envoyé")


def test_the_refusals_agree_with_their_counts(french):
    started = Campaign(id=7, first_started_at=datetime(2026, 3, 2))
    assert nothing_to_stop(started, StopResult(already_sent=1, in_flight=2)) == (
        f"rien à arrêter{NB}: aucun message de la campagne 7 n'attend d'être envoyé "
        "(1 déjà envoyé, 2 en cours d'envoi à cet instant)"
    )
    assert recipients.nothing_to_reinvite(7, StartPlan(skipped={"no_consent": 1}, already_sent=2)) == (
        f"rien à réinviter{NB}: aucune invitation de la campagne 7 expirée sans réponse ne peut être renvoyée "
        f"(1 interdite par une règle de consentement ou un désabonnement){NNB}; 2 déjà réinvités"
    )
    assert recipients.nothing_to_start(7, StartPlan(already_sent=1, in_progress=0)) == (
        f"rien à démarrer{NB}: aucun destinataire de la campagne 7 n'attend (1 déjà envoyé, 0 en cours)"
    )


def test_the_breakdowns_label_counts_in_their_number(french):
    plan = StartPlan(will_send=1, skipped={"no_consent": 2}, already_sent=1)
    lines = plan.reinvite_lines()
    assert lines[0] == f"Recevra une nouvelle invitation (nouveau code, 14 jours){NB}: 1, maintenant"
    assert f"Pas réinvités maintenant{NB}: 2" in lines and f"Déjà réinvité (pas renvoyé){NB}: 1" in lines
    assert f"Déjà envoyé (pas envoyé de nouveau){NB}: 1" in StartPlan(already_sent=1).breakdown().split("\n")


def test_the_stop_confirmation_is_one_sentence_a_count(french):
    """Its « (its patient goes back to » and « “assigned”: a later start sends to them) »
    were two entries: a translator saw half a sentence each, and the second, one for
    every count, could not agree with the first."""
    said = stop_message("Grippe", "invitation", StopResult(stopped=1, already_sent=1, in_flight=1)).split("\n")
    assert said[2:5] == [
        f"Pas envoyé, annulé maintenant{NB}: 1 courriel (son patient redevient {ASSIGNED}{NB}: "
        "un prochain démarrage le lui enverra)",
        f"En cours d'envoi à cet instant{NB}: 1 (il se termine)",
        f"Déjà envoyé{NB}: 1",
    ]


def test_the_audit_trail_of_one_row_says_one_row():
    from zoneinfo import ZoneInfo

    from core.audit.chain import Verdict

    (said,) = Verdict(rows=1, last_id=1).lines(ZoneInfo("America/Toronto"))
    assert said.startswith("the audit trail is intact: 1 row chained; "), said


def test_an_invitation_s_funnel_agrees_with_each_count(french):
    """The funnel read « invités 1, inscrits 0, expirés 0 » on the campaign list, its
    ledger's heading and `campaigns show`: a label with no count to agree with. One
    function says it for the three."""
    assert funnel_steps({"invited": 1, "joined": 0, "expired": 2, "reinvited": 0}) == ("1 invité, 0 inscrit, 2 expirés")
    assert funnel_steps({"invited": 3, "joined": 1, "expired": 2, "reinvited": 1}) == (
        "3 invités, 1 inscrit, 2 expirés, 1 réinvité"
    )


def test_an_invitation_s_funnel_in_english():
    assert funnel_steps({"invited": 1, "joined": 0, "expired": 1, "reinvited": 2}) == (
        "1 invited, 0 joined, 1 expired, 2 re-invited"
    )


def test_a_re_invitation_s_count_agrees_with_its_number(tmp_path):
    """A campaign's history says its latest re-invitation with how many it queued: « 1
    patient », « 2 patients », in French too (core.campaigns.history)."""
    from zoneinfo import ZoneInfo

    from core.campaigns.trail import CampaignHistory, Moment

    at = datetime(2026, 3, 2, 15, 0)
    tz = ZoneInfo("America/Toronto")

    def said(n, by="mlaval"):
        return CampaignHistory(Moment("", at), reinvited=Moment(by, at), reinvited_count=n).lines(tz)[-1]

    assert said(1).startswith("re-invited 1 patient ") and said(1).endswith(" by mlaval")
    assert said(2).startswith("re-invited 2 patients ")
    assert said(None).startswith("re-invited ") and "patient" not in said(None)  # the trail does not say
    assert " by " not in said(2, by="")
    fr = {
        ("re-invited {n} patient {when} by {login}", "re-invited {n} patients {when} by {login}"): (
            "{n} patient réinvité le {when} par {login}",
            "{n} patients réinvités le {when} par {login}",
        )
    }
    with speaking_french(tmp_path, fr):
        assert said(1).startswith("1 patient réinvité le ") and said(2).startswith("2 patients réinvités le ")

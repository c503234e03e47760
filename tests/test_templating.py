"""Templates: catalogue, sandbox, save-time validation, rendering, template files."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date

import pytest

from core import templating
from core.templating import (
    DEFAULT_INVITATION,
    PUSH_MAX_CHARS,
    TemplateFileError,
    TemplateRenderError,
    build_context,
    format_date,
    load_template_file,
    pick_language,
    render,
    sample_context,
    validate,
    validate_set,
    variables_for,
)

CLINIC = {
    "name": "Clinique du Parc",
    "phone": "514-555-0100",
    "address": "1234 rue Saint-Denis, Montréal QC",
    "app_url": "https://app.example.org/join",
    "timezone": "America/Toronto",
}
INVITATION = {"url": "https://app.example.org/join/AB12", "code": "AB-12", "expires_on": date(2026, 12, 24)}


UNSUBSCRIBE = "https://app.example.org/unsubscribe/k3J9"
# an invitation body must carry the unsubscribe link and the invitation link or code; tests
# about something else append them
WAY_OUT = "\n\n[join]({{ invitation.url }}) · [unsubscribe]({{ unsubscribe.url }})"


def invitation_context(first_name="Marie", language="fr"):
    return build_context(
        clinic=CLINIC,
        patient={"first_name": first_name, "last_name": "Tremblay", "language": language, "emr_id": "E-77"},
        campaign={},
        invitation=INVITATION,
        language=language,
        unsubscribe={"url": UNSUBSCRIBE},
    )


def broadcast(body="Bonjour", title="Titre", push="Nouveau message de {{ clinic.name }}"):
    return {"title": title, "body": body, "push": push}


def problems(kind, fields, language="fr"):
    return [str(p) for p in validate(kind, fields, language)]


class TestCatalogue:
    def test_variables_depend_on_kind(self):
        invitation = {v.name for v in variables_for("invitation")}
        broadcast_ = {v.name for v in variables_for("broadcast")}
        assert {"invitation.url", "invitation.code", "invitation.expires_on"} <= invitation
        assert not {"campaign.starts_on", "campaign.ends_on"} & invitation
        assert {"campaign.starts_on", "campaign.ends_on"} <= broadcast_
        assert not {n for n in broadcast_ if n.startswith("patient.")}, "a broadcast is one content for everyone"
        assert not {n for n in broadcast_ if n.startswith("invitation.")}

    def test_no_broadcast_field_offers_patient_variables(self):
        for field in ("title", "body", "push"):
            names = {v.name for v in variables_for("broadcast", field)}
            assert "clinic.name" in names and "patient.first_name" not in names

    def test_emr_id_is_not_a_variable(self):
        assert problems("invitation", {"subject": "s", "body": "{{ patient.emr_id }}"}) == [
            "French version, body line 1: unknown variable 'patient.emr_id'"
        ]


class TestValidation:
    def test_unknown_variable_names_line_and_variable(self):
        body = "Bonjour,\n\nCher {{ patient.frist_name }}\n"
        assert problems("invitation", {"subject": "s", "body": body}) == [
            "French version, body line 3: unknown variable 'patient.frist_name' (did you mean 'patient.first_name'?)"
        ]

    def test_syntax_error_names_line(self):
        found = validate("invitation", {"subject": "s", "body": "a\nb\n{% if %}\n"}, "en")
        assert [(p.language, p.field, p.line) for p in found] == [("en", "body", 3)]
        assert found[0].message.startswith("syntax error")

    def test_an_invitation_without_its_link_or_code_is_refused_saying_why(self):
        """SPEC §2: an invitation carries what a patient needs to join; without the link or
        the code, "Hello John, join us. Unsubscribe: …" went out and was never sent again."""
        way_out = "[unsubscribe]({{ unsubscribe.url }})"
        versions = {"fr": "French version", "en": "English version"}
        missing = (
            "{version}, body: must carry the patient's invitation link {{{{ invitation.url }}}} or code "
            "{{{{ invitation.code }}}}: without them the patient cannot join the app (SPEC §2)"
        )
        for body in ("Hello {{ patient.first_name }}, join us.", "{% if false %}{{ invitation.url }}{% endif %}"):
            for language in ("fr", "en"):
                fields = {"subject": "s", "body": f"{body} {way_out}"}
                assert problems("invitation", fields, language) == [missing.format(version=versions[language])]
        for body in ("[join]({{ invitation.url }})", "<{{ invitation.url }}>", "code: **{{ invitation.code }}**"):
            assert problems("invitation", {"subject": "s", "body": f"{body} {way_out}"}) == []
        both = {"fr": {"subject": "s", "body": "Bonjour " + way_out}, "en": {"subject": "s", "body": "Hi " + way_out}}
        assert [str(p) for p in templating.validate_set("invitation", both)] == [
            missing.format(version=versions["fr"]),
            missing.format(version=versions["en"]),
        ]

    def test_unknown_filter_is_reported(self):
        assert problems("invitation", {"subject": "{{ clinic.name|shout }}", "body": "b" + WAY_OUT}) == [
            "French version, subject line 1: syntax error: no filter named 'shout'"
        ]

    def test_runtime_error_line_comes_from_the_template(self):
        body = "a\n\n{{ later }}{% set later = 1 %}"
        assert problems("invitation", {"subject": "s", "body": body}) == [
            "French version, body line 3: unknown variable 'later'"
        ]

    def test_variable_of_the_other_kind_is_refused(self):
        assert problems("broadcast", broadcast(body="{{ invitation.url }}")) == [
            "French version, body line 1: 'invitation.url' is not available in a broadcast"
        ]
        assert problems("invitation", {"subject": "s", "body": "\n{{ campaign.ends_on }}"}) == [
            "French version, body line 2: 'campaign.ends_on' is not available in an invitation"
        ]

    def test_patient_variables_are_refused_in_every_broadcast_field_saying_why(self):
        found = problems("broadcast", broadcast(title="{{ patient.first_name }}", push="{{ patient.last_name }}"))
        assert found == [
            "French version, title line 1: 'patient.first_name' is patient data: "
            "the broadcast's title is one message for the whole audience",
            "French version, push line 1: 'patient.last_name' is patient data: "
            "a push shows on a locked phone screen, where others can see it",
        ]

    def test_an_email_without_its_unsubscribe_link_is_refused_saying_why(self):
        for body in ("{{ invitation.url }}", "{{ invitation.url }}{% if false %}{{ unsubscribe.url }}{% endif %}"):
            assert problems("invitation", {"subject": "s", "body": body}) == [
                "French version, body: must carry the patient's unsubscribe link {{ unsubscribe.url }}: "
                "every email needs a way out (SPEC §10)"
            ]
        assert problems("invitation", {"subject": "s", "body": "{{ invitation.url }} Bye: {{ unsubscribe.url }}"}) == []
        assert problems("broadcast", broadcast(body="{{ unsubscribe.url }}")) == [
            "French version, body line 1: 'unsubscribe.url' is not available in a broadcast"
        ]

    def test_required_fields(self):
        assert problems("broadcast", {"title": " ", "body": "b"}) == [
            "French version, title: is empty",
            "French version, push: is empty",
        ]
        assert problems("invitation", {"body": "b" + WAY_OUT}) == ["French version, subject: is empty"]

    def test_a_problem_names_the_version_as_staff_read_it(self, tmp_path):
        # not the language's code (« fr titre : est vide »): the version, in the reader's words
        from helpers import speaking_french

        nb = "\u00a0"
        french = {
            "French version": "version française",
            "English version": "version anglaise",
            "{version}, {field}: {message}": f"{{version}}, {{field}}{nb}: {{message}}",
            "{version}, {field} line {line}: {message}": f"{{version}}, {{field}} ligne {{line}}{nb}: {{message}}",
            "is empty": "est vide",
        }
        with speaking_french(tmp_path, french):
            assert problems("broadcast", {"title": " ", "body": "b", "push": "p"}) == [
                f"version française, title{nb}: est vide"
            ]
            assert problems("invitation", {"subject": "s", "body": "{{ later }}" + WAY_OUT}, "en")[0].startswith(
                f"version anglaise, body ligne 1{nb}: "
            )

    def test_field_of_the_other_kind_is_refused(self):
        assert problems("invitation", {"subject": "s", "body": "b" + WAY_OUT, "push": "p"}) == [
            "French version, push: not a field of an invitation"
        ]

    def test_push_over_178_characters_is_refused(self):
        fields = broadcast(push="x" * (PUSH_MAX_CHARS + 1))
        assert problems("broadcast", fields) == ["French version, push: push text is 179 characters; at most 178"]
        assert problems("broadcast", broadcast(push="x" * PUSH_MAX_CHARS)) == []

    def test_push_length_is_measured_rendered(self):
        # "Clinique du Parc" is 16 characters; the raw template is longer than 178.
        long_source = "{# " + "c" * 200 + " #}" + "y" * 160 + " {{ clinic.name }}"
        assert problems("broadcast", broadcast(push=long_source)) == []
        too_long = "y" * 165 + " {{ clinic.name }}"
        assert problems("broadcast", broadcast(push=too_long)) == [
            "French version, push: push text is 182 characters; at most 178"
        ]

    def test_push_is_measured_with_the_configured_clinic(self):
        fields = broadcast(push="y" * 150 + " {{ clinic.name }}")
        assert validate("broadcast", fields, "fr") == []
        long_name = {**CLINIC, "name": "Clinique médicale familiale du Parc Lafontaine"}
        assert [str(p) for p in validate("broadcast", fields, "fr", clinic=long_name)] == [
            "French version, push: push text is 197 characters; at most 178"
        ]

    def test_set_skips_a_blank_language_but_not_the_default(self):
        templates = {"fr": DEFAULT_INVITATION["fr"], "en": {"subject": "", "body": ""}}
        assert validate_set("invitation", templates) == []
        assert [str(p) for p in validate_set("invitation", templates, default_language="en")] == [
            "English version, subject: is empty",
            "English version, body: is empty",
        ]

    def test_set_reports_a_half_written_language(self):
        templates = {"fr": DEFAULT_INVITATION["fr"], "en": {"subject": "Hello"}}
        assert [str(p) for p in validate_set("invitation", templates)] == ["English version, body: is empty"]

    def test_set_with_nothing_written_reports_every_language(self):
        found = validate_set("broadcast", {})
        assert {(p.language, p.field) for p in found} == {
            (lang, field) for lang in ("fr", "en") for field in ("title", "body", "push")
        }


class TestSandbox:
    @pytest.mark.parametrize(
        "source",
        [
            "{{ patient.__class__ }}",
            "{{ ''.__class__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ clinic.name.upper.__globals__ }}",
            "{{ clinic.name.upper() }}",
            "{{ clinic.name|attr('__class__') }}",
            "{{ clinic.name|attr('upper')() }}",
            "{{ patient['__class__'] }}",
            "{{ patient.items() }}",
            "{{ patient }}",
            "{{ clinic.foo }}",
            "{{ range(3) }}",
            "{{ cycler.__init__.__globals__ }}",
            "{{ self }}",
            "{% include 'secrets.txt' %}",
        ],
    )
    def test_escape_attempts_are_refused_at_save_and_at_render(self, source):
        found = validate("invitation", {"subject": "s", "body": source}, "fr")
        assert len(found) == 1 and found[0].line == 1
        with pytest.raises(TemplateRenderError):
            render("invitation", {"body": source}, invitation_context())

    def test_documented_variables_and_filters_work(self):
        source = "{{ clinic['name'] }} {{ patient.first_name|upper }}{% set x = clinic.phone %} {{ x }}"
        assert validate("invitation", {"subject": "s", "body": source + WAY_OUT}, "fr") == []
        assert (
            render("invitation", {"body": source}, invitation_context()).text == "Clinique du Parc MARIE 514-555-0100\n"
        )

    def test_context_holds_only_documented_variables(self):
        context = invitation_context()
        assert context == {
            "clinic": {k: CLINIC[k] for k in ("name", "phone", "address", "app_url")},
            "patient": {"first_name": "Marie", "last_name": "Tremblay", "language": "fr"},
            "invitation": {"url": INVITATION["url"], "code": "AB-12", "expires_on": "24\u00a0décembre\u00a02026"},
            "unsubscribe": {"url": UNSUBSCRIBE},
        }


class TestHtmlEscaping:
    @pytest.mark.parametrize(
        ("name", "forbidden"),
        [
            ("<script>alert(1)</script>", "<script"),
            ("[x](javascript:alert(1))", "<a"),
            ("[site](https://evil.example)", "<a"),
            ("<https://evil.example>", "<a"),
            ("**Marie**", "<strong>"),
            ("# Marie", "<h1>"),
            ("&lt;b&gt;", "&lt;b&gt;"),
        ],
    )
    def test_patient_values_are_literal_text(self, name, forbidden):
        rendered = render(
            "invitation", {"subject": "s", "body": "Bonjour {{ patient.first_name }}"}, invitation_context(name)
        )
        assert forbidden not in rendered.html
        assert rendered.text == f"Bonjour {name}\n"

    def test_line_breaks_in_values_cannot_start_blocks(self):
        context = invitation_context("Marie\n\n    code\n\n---")
        rendered = render("invitation", {"body": "Bonjour {{ patient.first_name }}"}, context)
        assert "<pre>" not in rendered.html and "<hr" not in rendered.html
        assert rendered.text == "Bonjour Marie code ---\n"

    def test_script_name_is_escaped_in_html(self):
        rendered = render("invitation", {"body": "Bonjour {{ patient.first_name }}"}, invitation_context("<script>"))
        assert "<p>Bonjour &lt;script&gt;</p>" in rendered.html

    def test_raw_html_in_the_template_is_not_passed_through(self):
        rendered = render(
            "invitation", {"body": "<b onclick='x()'>hi</b> [a](javascript:alert(1))"}, invitation_context()
        )
        assert "&lt;b onclick='x()'&gt;hi&lt;/b&gt;" in rendered.html
        assert "<b onclick" not in rendered.html
        assert 'href="javascript' not in rendered.html

    def test_subject_is_one_line_and_escaped_in_the_html_title(self):
        context = invitation_context("Ann\r\nBcc: x@evil.example <i>")
        rendered = render("invitation", {"subject": "Hi {{ patient.first_name }}", "body": "b"}, context)
        assert rendered.subject == "Hi Ann Bcc: x@evil.example <i>"
        assert "<title>Hi Ann Bcc: x@evil.example &lt;i&gt;</title>" in rendered.html

    def test_link_built_from_variables_keeps_its_url(self):
        context = build_context(
            clinic=CLINIC,
            patient=None,
            campaign={},
            language="en",
            invitation={**INVITATION, "url": "https://app.example.org/join?c=A_1&l=en"},
        )
        rendered = render("invitation", {"body": "[Join]({{ invitation.url }})"}, context)
        assert '<a href="https://app.example.org/join?c=A_1&amp;l=en">Join</a>' in rendered.html
        assert rendered.text == "Join (https://app.example.org/join?c=A_1&l=en)\n"


def code_context(first_name="Marie", code="5RRG-PE79", url="https://app.example.org/join/5RRG-PE79"):
    context = invitation_context(first_name)
    context["invitation"] = {**context["invitation"], "code": code, "url": url}
    return context


CODE_BODY = (
    "Saisissez le code `{{ invitation.code }}` dans l'application.\n\n"
    "Rejoindre\u00a0: <{{ invitation.url }}>\n\n"
    "Pour vous désabonner\u00a0: <{{ unsubscribe.url }}>"
)


class TestValuesInCodeAndAutolinks:
    """CommonMark keeps a backslash inside a code span or an autolink: a value there is
    written as it is (with a fence it cannot close), not backslash-escaped."""

    def test_a_code_and_links_come_out_exactly(self):
        rendered = render("invitation", {"subject": "s", "body": CODE_BODY}, code_context())
        assert rendered.text == (
            "Saisissez le code 5RRG-PE79 dans l'application.\n\n"
            "Rejoindre\u00a0: https://app.example.org/join/5RRG-PE79\n\n"
            f"Pour vous désabonner\u00a0: {UNSUBSCRIBE}\n"
        )
        assert "<code>5RRG-PE79</code>" in rendered.html
        assert '<a href="https://app.example.org/join/5RRG-PE79">https://app.example.org/join/5RRG-PE79</a>' in (
            rendered.html
        )
        assert f'<a href="{UNSUBSCRIBE}">{UNSUBSCRIBE}</a>' in rendered.html

    def test_a_prepared_invitation_puts_them_in_exactly_too(self):
        from core.templating.prepared import Prepared

        context = code_context()
        p = Prepared({"subject": "s", "body": CODE_BODY}, {"clinic": context["clinic"]}, "fr")
        rendered = p.render({k: context[k] for k in ("patient", "invitation", "unsubscribe")})
        assert rendered == render("invitation", {"subject": "s", "body": CODE_BODY}, context, "fr")
        assert "<code>5RRG-PE79</code>" in rendered.html and f'href="{UNSUBSCRIBE}"' in rendered.html

    def test_the_feed_markdown_shows_them_exactly(self):
        body = "Composez le `{{ clinic.phone }}` ou visitez <{{ clinic.app_url }}>."
        rendered = render("broadcast", broadcast(body=body), {"clinic": invitation_context()["clinic"]})
        assert rendered.body_markdown == "Composez le `514-555-0100` ou visitez <https://app.example.org/join>."

    @pytest.mark.parametrize(
        "name",
        [
            "*x*", "[x](http://evil.example)", "<script>", "`", "a`b", "``", "x` [y](http://evil.example) `z",
            "<https://evil.example>", "# h", "> q", "a\\", "\\`", "**b**", "a>b", "x\u00a0y",
        ],
    )  # fmt: skip
    @pytest.mark.parametrize(
        "body",
        [
            "Nom\u00a0: `{{ patient.first_name }}` fin",
            "`a\n{{ patient.first_name }}` fin",
            "``{{ patient.first_name }}`` et `{{ patient.last_name }}`",
            "```\n{{ patient.first_name }}\n```",
        ],
    )
    def test_hostile_names_in_code_stay_their_text(self, name, body):
        context = invitation_context(name)
        context["patient"]["last_name"] = name
        rendered = render("invitation", {"subject": "s", "body": body}, context)
        shown = rendered.html.split("<body")[1]
        for markup in ("<a ", "<script", "<em>", "<strong>", "<h1>", "<blockquote>"):
            assert markup not in shown, (markup, shown)
        assert name in rendered.text, rendered.text
        assert name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in shown
        assert "xqzjv" not in rendered.text

    @pytest.mark.parametrize(
        "name", ["*x*", "[x](http://evil.example)", "<script>", "`x`", "a b", "javascript:alert(1)", "<http://e.x>"]
    )
    def test_hostile_names_in_an_autolink_stay_their_text(self, name):
        rendered = render("invitation", {"body": "Nom\u00a0: <{{ patient.first_name }}>"}, invitation_context(name))
        shown = rendered.html.split("<body")[1]
        for markup in ("<a ", "<script", "<em>", "<code>"):
            assert markup not in shown, (markup, shown)
        assert rendered.text == f"Nom\u00a0: <{name}>\n"

    @pytest.mark.parametrize(
        ("source", "text"),
        [
            ("`{{ 'a-b' }}` {{ 'c-d' }} {{ 'e-f' }}", "a-b c-d e-f\n"),  # constants: written at render time
            ("{% for x in ['a', 'b'] %}`{{ x }}-{{ x }}` {% endfor %}", "a-a b-b\n"),
            ("`{{ invitation.code }}` xqzjv:avjzqx", "5RRG\\-PE79 xqzjv:avjzqx\n"),  # a slot's look-alike: as before
        ],
    )
    def test_values_come_out_whatever_the_template_writes_around_them(self, source, text):
        assert render("invitation", {"subject": "s", "body": source}, code_context()).text == text

    def test_a_name_holding_a_slot_is_its_text(self):
        for name in ("xqzjv:avjzqx", "XQZJV:bvjzqx"):
            body = "`{{ patient.first_name }}` {{ invitation.code }}"
            rendered = render("invitation", {"body": body}, code_context(name))
            assert rendered.text == f"{name} 5RRG-PE79\n"

    def test_an_unsubscribe_autolink_is_a_way_out(self):
        body = "Code\u00a0: `{{ invitation.code }}`. Désabonnement\u00a0: <{{ unsubscribe.url }}>"
        assert validate("invitation", {"subject": "s", "body": body}, "fr") == []
        joined = "Rejoignez-nous\u00a0: <{{ invitation.url }}>. Désabonnement\u00a0: <{{ unsubscribe.url }}>"
        assert validate("invitation", {"subject": "s", "body": joined}, "fr") == []  # the link as it is, too

    def test_a_value_too_long_for_a_body_is_refused(self):
        with pytest.raises(TemplateRenderError, match="rendered text would be"):
            render("invitation", {"body": "`{{ patient.first_name }}`"}, invitation_context("x" * 70_000))


class TestRendering:
    def test_text_part_is_readable(self):
        body = (
            "## Vos rendez-vous\n\nVoir **le site** et _la carte_ : [notre site](https://clinique.example).\n\n"
            "- premier point\n- second point\n  - détail\n\n1. un\n2. deux\n\n"
            "Écrivez à [info@clinique.example](mailto:info@clinique.example)."
        )
        assert render("invitation", {"body": body}, invitation_context()).text == (
            "Vos rendez-vous\n\n"
            "Voir le site et la carte : notre site (https://clinique.example).\n\n"
            "- premier point\n- second point\n  - détail\n\n"
            "1. un\n2. deux\n\n"
            "Écrivez à info@clinique.example.\n"
        )

    def test_line_breaks_are_kept(self):
        rendered = render("invitation", {"body": "Merci,\n{{ clinic.name }}"}, invitation_context())
        assert rendered.text == "Merci,\nClinique du Parc\n"
        assert "Merci,<br />\nClinique du Parc" in rendered.html

    def test_html_is_a_whole_document(self):
        rendered = render("invitation", {"subject": "Sujet", "body": "# Titre"}, invitation_context())
        assert rendered.html.startswith("<!DOCTYPE html>")
        assert '<meta charset="utf-8">' in rendered.html and "<h1>Titre</h1>" in rendered.html

    def test_broadcast_fields(self):
        context = build_context(
            clinic=CLINIC,
            patient={"first_name": "Luc"},
            language="en",
            invitation=None,
            campaign={"starts_on": date(2026, 12, 1), "ends_on": date(2026, 12, 24)},
        )
        rendered = render(
            "broadcast",
            broadcast(
                title="Holidays at {{ clinic.name }}",
                body="**Closed** until {{ campaign.ends_on }}.",
                push="{{ clinic.name }},\n  a new message",
            ),
            context,
        )
        assert rendered.title == "Holidays at Clinique du Parc"
        assert rendered.body_markdown == "**Closed** until December\u00a024,\u00a02026."
        assert rendered.push == "Clinique du Parc, a new message"
        assert rendered.html is None

    def test_broadcast_content_renders_without_a_patient(self):
        context = build_context(
            clinic=CLINIC, patient=None, campaign={"ends_on": date(2026, 1, 1)}, invitation=None, language="fr"
        )
        rendered = render("broadcast", {"title": "t", "body": "Jusqu'au {{ campaign.ends_on }}"}, context)
        assert rendered.body_markdown == "Jusqu'au 1er\u00a0janvier\u00a02026" and rendered.push is None
        with pytest.raises(TemplateRenderError, match="push line 1: 'patient.first_name' is patient data"):
            render("broadcast", {"push": "{{ patient.first_name }}"}, context)

    def test_push_over_178_characters_fails_at_render(self):
        context = build_context(
            clinic={**CLINIC, "name": "M" * 175}, patient=None, campaign={}, invitation=None, language="fr"
        )
        with pytest.raises(TemplateRenderError, match="push text is 179 characters; at most 178"):
            render("broadcast", {"push": "Hi {{ clinic.name }}!"}, context)

    def test_missing_patient_values_render_empty(self):
        context = build_context(
            clinic=CLINIC,
            patient={"first_name": None},
            campaign={},
            invitation=INVITATION,
            language="en",
            unsubscribe={"url": UNSUBSCRIBE},
        )
        rendered = render("invitation", DEFAULT_INVITATION["en"], context)
        assert rendered.text.startswith("Hello,\n")


class TestDefaults:
    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_defaults_validate_clean(self, language):
        assert validate("invitation", DEFAULT_INVITATION[language], language) == []

    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_defaults_carry_what_a_patient_needs(self, language):
        assert "{{ clinic.name }}" in DEFAULT_INVITATION[language]["subject"]
        rendered = render("invitation", DEFAULT_INVITATION[language], invitation_context(language=language))
        for needed in ("Clinique du Parc", INVITATION["url"], "AB-12", "514-555-0100"):
            assert needed in rendered.text
        assert {"fr": "24\u00a0décembre\u00a02026", "en": "December\u00a024,\u00a02026"}[language] in rendered.text
        assert f'href="{INVITATION["url"]}"' in rendered.html
        assert f'href="{UNSUBSCRIBE}"' in rendered.html and UNSUBSCRIBE in rendered.text
        assert rendered.subject.startswith("Clinique du Parc ")

    def test_the_french_default_is_typeset_as_quebec_writes_it(self):
        """A patient reads it: no plain space before a colon, semicolon or question mark,
        which a mail reader may wrap to the start of a line (« clinique » then « : »)."""
        rendered = render("invitation", DEFAULT_INVITATION["fr"], invitation_context(language="fr"))
        for text in (rendered.subject, rendered.text, rendered.html):
            assert not re.search(r" [:;?!]", text), re.findall(r".{20} [:;?!]", text)
        assert "clinique\u00a0:" in rendered.text and "question\u202f?" in rendered.text

    def test_defaults_pass_as_a_set(self):
        assert validate_set("invitation", DEFAULT_INVITATION, default_language="fr") == []


class TestLanguage:
    TEMPLATES = {"fr": {"subject": "Bonjour", "body": "b"}, "en": {"subject": " ", "body": ""}}

    def test_patient_language_when_written(self):
        assert pick_language(DEFAULT_INVITATION, "en", "fr") == "en"

    @pytest.mark.parametrize("patient_language", ["en", None, "", "de"])
    def test_falls_back_to_the_clinic_default(self, patient_language):
        assert pick_language(self.TEMPLATES, patient_language, "fr") == "fr"

    def test_missing_language_falls_back(self):
        assert pick_language({"en": {"subject": "Hi"}}, "fr", "en") == "en"


class TestDates:
    @pytest.mark.parametrize(
        ("day", "fr", "en"),
        [
            (date(2026, 12, 24), "24\u00a0décembre\u00a02026", "December\u00a024,\u00a02026"),
            (date(2027, 1, 1), "1er\u00a0janvier\u00a02027", "January\u00a01,\u00a02027"),
            (date(2027, 8, 15), "15\u00a0août\u00a02027", "August\u00a015,\u00a02027"),
        ],
    )
    def test_format(self, day, fr, en):
        assert (format_date(day, "fr"), format_date(day, "en")) == (fr, en)

    def test_unknown_language_is_refused(self):
        with pytest.raises(ValueError, match="unknown language 'de'"):
            format_date(date(2026, 1, 1), "de")

    def test_a_date_stays_whole_in_a_push_and_a_subject(self):
        """One line squeezes breaking white space, not a date's no-break spaces."""
        days = {"starts_on": date(2026, 9, 1), "ends_on": date(2026, 9, 30)}
        context = build_context(clinic=CLINIC, patient=None, campaign=days, invitation=None, language="fr")
        rendered = render("broadcast", broadcast(push="Dès le  {{ campaign.starts_on }}\n"), context)
        assert rendered.push == "Dès le 1er\u00a0septembre\u00a02026"
        subject = "Valide jusqu'au {{ invitation.expires_on }}"
        assert render("invitation", {"subject": subject}, invitation_context()).subject == (
            "Valide jusqu'au 24\u00a0décembre\u00a02026"
        )

    def test_a_push_is_measured_at_save_with_the_longest_date(self):
        """« 1er septembre 2026 » is two characters longer than the example « 24 décembre
        2026 »: a push that fits with the example must not come out too long at send."""
        push = "x" * 161 + "{{ campaign.ends_on }}"
        assert problems("broadcast", broadcast(push=push)) == [
            "French version, push: push text is 179 characters; at most 178"
        ]
        days = {"starts_on": date(2026, 9, 1), "ends_on": date(2026, 9, 1)}
        context = build_context(clinic=CLINIC, patient=None, campaign=days, invitation=None, language="fr")
        with pytest.raises(TemplateRenderError, match="179"):
            render("broadcast", {"push": push}, context)
        assert problems("broadcast", broadcast(push=push[1:])) == []
        assert len(render("broadcast", {"push": push[1:]}, context).push) == 178

    def test_sample_context_dates_follow_the_language(self):
        assert sample_context("broadcast", "en")["campaign"]["ends_on"] == "December\u00a024,\u00a02026"
        assert sample_context("broadcast", "fr")["campaign"]["ends_on"] == "24\u00a0décembre\u00a02026"
        assert "campaign" not in sample_context("invitation", "fr")


class TestTemplateFile:
    def write(self, tmp_path, text):
        path = tmp_path / "templates.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def test_good_file(self, tmp_path):
        path = self.write(
            tmp_path,
            '[fr]\ntitle = "Fermé"\nbody = """\n**Fermé** le {{ campaign.ends_on }}\n"""\n'
            'push = "Nouveau message"\n[en]\ntitle = "Closed"\n',
        )
        assert load_template_file(path) == {
            "fr": {"title": "Fermé", "body": "**Fermé** le {{ campaign.ends_on }}\n", "push": "Nouveau message"},
            "en": {"title": "Closed"},
        }

    def test_toml_syntax_error_names_file_and_line(self, tmp_path):
        path = self.write(tmp_path, '[fr]\ntitle = "ok"\nbody = "unterminated\n')
        with pytest.raises(TemplateFileError) as error:
            load_template_file(path)
        message = str(error.value)
        assert message.startswith(f"{path}: TOML syntax error") and "line 3" in message
        assert "\n" not in message

    def test_bom_and_windows_1252(self, tmp_path):
        path = tmp_path / "t.toml"
        path.write_bytes(b'\xef\xbb\xbf[fr]\ntitle = "Ferm\xc3\xa9"\n')
        assert load_template_file(path) == {"fr": {"title": "Fermé"}}
        path.write_bytes('[fr]\ntitle = "Fermé"\n'.encode("cp1252"))
        with pytest.raises(TemplateFileError) as error:
            load_template_file(path)
        assert str(error.value) == (
            f"{path}: not UTF-8 text at line 2, column 14 (byte 0xE9: Windows-1252?); save the file as UTF-8"
        )

    def test_unknown_key_is_refused(self, tmp_path):
        path = self.write(tmp_path, '[fr]\nsubjet = "Bonjour"\n')
        with pytest.raises(TemplateFileError, match=r"unknown key 'fr\.subjet'; expected one of subject, title"):
            load_template_file(path)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('[de]\ntitle = "Hallo"\n', "unknown language 'de'"),
            ('fr = "Bonjour"\n', "'fr' must be a table"),
            ("[fr]\npush = 3\n", "'fr.push' must be a string"),
        ],
    )
    def test_bad_structure_is_refused(self, tmp_path, text, expected):
        with pytest.raises(TemplateFileError, match=expected):
            load_template_file(self.write(tmp_path, text))

    def test_a_file_without_a_language_is_refused(self, tmp_path):
        path = self.write(tmp_path, "# nothing yet\n")
        with pytest.raises(TemplateFileError) as error:
            load_template_file(path)
        assert str(error.value) == f"{path}: no language table; expected [fr] or [en]"

    def test_a_language_left_out_is_kept_and_an_empty_one_empties(self):
        from core.templating import over

        base = {"fr": {"title": "Fermé"}, "en": {"title": "Closed"}}
        assert over({"fr": {"title": "Ouvert"}}, base) == {"fr": {"title": "Ouvert"}, "en": {"title": "Closed"}}
        assert over({"fr": {"title": "Ouvert"}, "en": {}}, base) == {"fr": {"title": "Ouvert"}, "en": {}}
        assert over({"en": {"title": "Open"}}, {}) == {"fr": {}, "en": {"title": "Open"}}

    def test_missing_file(self, tmp_path):
        with pytest.raises(TemplateFileError, match="nope.toml: no such file"):
            load_template_file(tmp_path / "nope.toml")


def test_templating_does_not_import_textual():
    code = "import sys, core.templating; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- prepared once per campaign and language (core.templating.prepared) ---------------

_ODD_VALUES = [
    "", " ", "a", "1", "12", "*x*", "_y_", "Jean-Luc", "O'Brien", "<b>x</b>", "a & b", "x\u00a0y", "1. a", "# t",
    "[x](y)", "é", "Zoë!", "`c`", "a  b", "\\", "https://x.y/(a)", "javascript:alert(1)", "ÉLODIE", "李", "x\ty",
    "a`b", "``", "5RRG-PE79", "21\u00a0décembre\u00a02026",
    "a*b", "a_b_c", "**", "&amp;", '"q"', "https://App.Example.org", "https://h.example", "HTTPS://h.example/p",
    "https://h.example/a%20b", "https://h.example/ü", "mailto:x@y.org", "https://h.example/a b", "x\x00y",
]  # fmt: skip


def _invitation_context(first="Marie", url="https://app.example.org/join/K7P2QX4M", over=None):
    from datetime import date

    ctx = templating.build_context(
        clinic={"name": "Clinique du Parc", "phone": "514-555-0100", "address": "1 rue A", "app_url": "https://a.org"},
        campaign={},
        language="fr",
        patient={"first_name": first, "last_name": "Tremblay", "language": "fr"},
        invitation={"url": url, "code": "K7P2-QX4M", "expires_on": date(2026, 12, 24)},
        unsubscribe={"url": "https://app.example.org/unsubscribe/tok_en-1"},
    )
    for (group, key), value in (over or {}).items():
        ctx[group] = {**ctx[group], key: value}
    return ctx


@pytest.mark.parametrize(
    "body",
    [
        templating.DEFAULT_INVITATION["fr"]["body"],
        templating.DEFAULT_INVITATION["en"]["body"],
        "*{{ patient.first_name }}* and _{{ patient.last_name }}_\n\n{{ patient.first_name }}. Bonjour\n\n"
        "> {{ patient.first_name }}\n\n- {{ invitation.code }}\n\n[{{ invitation.url }}]({{ invitation.url }})\n\n"
        "`{{ patient.first_name }}`\n\n[x](https://h.example/{{ patient.first_name }})",
        "<{{ unsubscribe.url }}> &{{ patient.first_name }};\n\n[{{ patient.first_name }}]\n\n[marie]: https://x.org",
        CODE_BODY + "\n\n`{{ patient.first_name }}` <https://h.example/{{ patient.last_name }}>",
        "{% if patient.first_name == 'Marie' %}M{% endif %}{{ patient.first_name | upper }} {{ unsubscribe.url }}",
    ],
)
def test_a_prepared_invitation_renders_exactly_as_render_does(body):
    """Fast or not, the same subject, text and HTML as a full render, whatever the values."""
    from core.templating.prepared import Prepared

    fields = {"subject": "{{ clinic.name }} : {{ patient.first_name }}", "body": body}
    base = _invitation_context()
    p = Prepared(fields, {"clinic": base["clinic"]}, "fr")
    slots = [("patient", "first_name"), ("patient", "last_name"), ("invitation", "url"), ("unsubscribe", "url")]
    for value in _ODD_VALUES:
        for slot in slots:
            ctx = _invitation_context(over={slot: value})
            try:
                expected = templating.render("invitation", fields, ctx, "fr")
            except templating.TemplateRenderError as e:
                expected = repr(e)
            try:
                got = p.render({k: ctx[k] for k in ("patient", "invitation", "unsubscribe")})
            except templating.TemplateRenderError as e:
                got = repr(e)
            # what is sent: subject, text and HTML (body_markdown is the preview's, made by render)
            if not isinstance(expected, str):
                expected = (expected.subject, expected.text, expected.html)
            if not isinstance(got, str):
                got = (got.subject, got.text, got.html)
            assert got == expected, (value, slot)


def test_the_default_invitation_is_rendered_once_per_language_not_per_patient():
    from core.templating.prepared import Prepared

    fields = templating.DEFAULT_INVITATION["fr"]
    p = Prepared(fields, {"clinic": _invitation_context()["clinic"]}, "fr")
    for i in range(50):
        ctx = _invitation_context(first=f"Prénom{i}", url=f"https://app.example.org/join/K7P{i}")
        p.render({k: ctx[k] for k in ("patient", "invitation", "unsubscribe")})
    assert (p.fast, p.slow) == (50, 0)
    assert len(p._variants) == 1, "one parse and one Markdown render for all of them"


# Jinja's and Python's own English for a template's mistakes, said in French (SPEC §12):
# each source, its French words, and none of Jinja's
MISTAKES_IN_FRENCH = [
    ('{{ "x" | foo }}', "aucun filtre nommé 'foo'"),
    ("{{ x is foo }}", "aucun test nommé 'foo'"),
    ("{% foo %}", "balise 'foo' inconnue"),
    ("{% if x %}a", "avant que son bloc 'if' soit fermé"),
    ("{{ patient.first_name", "là où '}}' était attendu"),
    ("{{ patient.first_name }", "'}' inattendu"),
    ("{{ patient.first_name y }}", "attendu '}}', reçu 'y'"),
    ('{{ "a }}', "caractère inattendu '\"'"),
    ("{% if %}a{% endif %}", "attendu une valeur, reçu '%}'"),
    ("{{ 1 // 0 }}", "une division par zéro"),
    ("{{ patient.first_name - 1 }}", "un calcul mêle des valeurs"),
    ("{{ patient.first_name[99] }}", "une valeur qui n'existe pas ici"),
    # a key computed at render time: the sandbox refuses it, said as the save-time check says it
    (
        "{% set k = '__cla' ~ 'ss__' %}{{ patient.first_name[k] }}",
        "l'attribut «\u00a0__class__\u00a0» n'est pas permis",
    ),
]


@pytest.mark.parametrize(("source", "said"), MISTAKES_IN_FRENCH)
def test_a_template_mistake_is_said_in_french(source, said):
    from core import i18n

    i18n.use("fr")
    problems = templating.validate("invitation", {"subject": source, "body": WAY_OUT}, "fr")
    assert len(problems) == 1, problems
    text = str(problems[0])
    assert said in text, text
    for english in ("expected", "unexpected", "Encountered", "named", "Error", "operand", "element", "token", "unsafe"):
        assert english not in text, text


def test_a_call_the_sandbox_refuses_is_said_in_french():
    """Jinja's sandbox refuses to call what is marked unsafe, in English: said in French."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    from core import i18n
    from core.templating import jinjawords

    def f() -> str:
        return ""

    f.unsafe_callable = True  # type: ignore[attr-defined]
    with pytest.raises(SecurityError) as refused:
        ImmutableSandboxedEnvironment().from_string("{{ f() }}").render(f=f)
    i18n.use("fr")
    assert jinjawords.runtime(refused.value) == "appeler ceci n'est pas permis dans un modèle"

"""What the template editor's preview needs that is not an action: the patient a preview
is rendered for (`preview_patient`) and the preview itself (`template_preview`). Nothing
here changes a campaign or a patient, but it is not free of rules: `template_preview`
requires Permission.CAMPAIGNS, and a preview rendered with a real patient's data is an
audited read (core.audit.read.record_read: an audit row, at most one per user, campaign
and patient within 10 minutes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.context import Ctx
from core.enums import Kind, Permission


def preview_patient(campaign_id: int | str, patient_id: int | None = None):
    """The patient a template preview is rendered for: the one asked, else the campaign's
    first recipient, else the first patient of the directory (None if it is empty)."""
    from core.models import Patient, Recipient

    if patient_id is not None:
        return Patient.get_or_none(Patient.id == patient_id)
    r = Recipient.select(Recipient.patient).where(Recipient.campaign == int(campaign_id)).order_by(Recipient.id).first()
    if r is not None:
        return Patient.get_by_id(r.patient_id)
    return Patient.select().order_by(Patient.id).first()


@dataclass
class Preview:
    language: str
    patient: str  # "Marie Tremblay · 100023", or "" when no patient
    patient_id: int | None
    fields: dict[str, str]  # rendered, by field (invitation body: the plain text)
    errors: dict[str, str]  # field -> problem when it cannot be rendered
    problems: list[str]  # every problem of this language ("French version, body line 3: …")
    push_length: int | None
    emr_id: str = ""  # the patient's, for a test send of what the preview shows
    # an invitation's body as its HTML part reads: the Markdown it is made from, with the
    # identification every email ends with (fields["body"] is the text part)
    body_markdown: str | None = None
    patient_name: str = ""  # the patient's name alone (a narrow header cuts it, never the EMR id)


def template_preview(
    ctx: Ctx, campaign_id, fields: dict[str, str], language: str, patient_id: int | None = None
) -> Preview:
    """Render one language's (unsaved) template fields for a real patient (the example one
    while the directory is empty), as the editor shows it, with the problems saving would
    report. Invitation link and code are the catalogue's examples (the real ones are made
    when the email is sent)."""
    from datetime import timedelta

    from core import identification, templating
    from core.campaigns import INVITATION_VALID_DAYS, clinic_values, get
    from core.templating.variables import UNSUBSCRIBE_EXAMPLE

    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    p = preview_patient(c.id, patient_id)
    invitation = None
    if c.kind == Kind.INVITATION:
        ex = {v.key: v.example for v in templating.VARIABLES if v.group == "invitation"}
        invitation = {
            "url": ex["url"],
            "code": ex["code"],
            "expires_on": ctx.today() + timedelta(days=INVITATION_VALID_DAYS),
        }
    if p is not None:
        patient = {"first_name": p.first_name, "last_name": p.last_name, "language": p.language}
    else:  # no patient imported yet: the catalogue's example one, as the editor says (and validation uses)
        patient = templating.sample_context(c.kind, language)["patient"]
    clinic = clinic_values(ctx.config)
    context = templating.build_context(
        clinic=clinic,
        patient=patient,
        campaign={"starts_on": c.starts_on, "ends_on": c.ends_on},
        invitation=invitation,
        language=language,
        # an example link: the preview must never carry a real patient's working link
        unsubscribe={"url": UNSUBSCRIBE_EXAMPLE} if invitation is not None else None,
    )
    if p is not None:  # rendered with a real patient's data: an audited read (one row per patient a while)
        from core.audit.read import record_read

        record_read(ctx, "preview", c.id, coalesce=10, emr_id=p.emr_id)
    problems = templating.validate(c.kind, fields, language, clinic)
    rendered: dict[str, str] = {}
    errors: dict[str, str] = {}
    push_length = None
    body_markdown = None
    for field in templating.FIELDS[c.kind]:
        source = fields.get(field) or ""
        if not source.strip():
            continue
        try:
            out = templating.render(c.kind, {field: source}, context)
        except templating.TemplateRenderError as e:
            errors[field] = str(e)
            push_length = e.length if field == "push" else push_length
            continue
        if c.kind == Kind.INVITATION and field == "body":
            # what the patient gets: the identification no template can remove, at the end
            rendered[field] = identification.add(out.text or "", "", clinic, language)[0]
            ids = identification.lines(clinic, language)
            ids_md = "  \n".join(re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", line) for line in ids)
            body_markdown = (out.body_markdown or "").rstrip("\n") + "\n\n---\n\n" + ids_md + "\n"
        elif c.kind == Kind.INVITATION:
            rendered[field] = out.subject or ""
        else:
            rendered[field] = {"title": out.title, "body": out.body_markdown, "push": out.push}[field] or ""
    if c.kind == Kind.BROADCAST and push_length is None:
        push_length = len(rendered.get("push") or " ".join((fields.get("push") or "").split()))
    label = f"{p.name} · {p.emr_id}" if p is not None else ""
    return Preview(
        language,
        label,
        p.id if p is not None else None,
        rendered,
        errors,
        [str(x) for x in problems],
        push_length,
        p.emr_id if p is not None else "",
        body_markdown,
        p.name if p is not None else "",
    )

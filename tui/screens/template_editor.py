"""The template editor (SPEC §3): French and English tabs, the fields of the kind, a
Markdown body with formatting keys, a variable picker, a live preview for a real patient,
the push length counter; saving refuses a template with problems and shows where."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import (
    Header,
    Input,
    Markdown,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.text_area import Selection

from core import campaigns, drafts, templating, views
from core.campaigns.actions import template_problems
from core.enums import Kind
from core.i18n import N_, _, ngettext, pgettext
from tui.screens.drafts import DraftOffer, draft_bindings, draft_line
from tui.screens.modals import ConfirmModal, leave_unless_unsaved
from tui.screens.sending import SendingControl
from tui.typeahead import typed_first
from tui.widgets.footer import KeysFooter
from tui.widgets.status_line import StatusLine
from tui.widgets.text_input import TextInput


def lang_name(lang: str) -> str:
    """A version's tab: its language named in the language in use ("French", « Anglais »)."""
    return pgettext("template tab", "French") if lang == "fr" else pgettext("template tab", "English")


def push_hint() -> str:
    """The empty push field's hint: whole in its 30 columns at 80 (« texte brut, 178
    caractères au plus » lost its « plus »); the counter beside it says the 178."""
    return _("plain text, no Markdown")


FIELD_LABELS = {"subject": N_("Subject"), "title": N_("Title"), "body": N_("Body"), "push": N_("Push")}
PREVIEW_DELAY = 0.25


class PreviewWho(Widget):
    """Whom the preview is for: "for Jean-François Desjardins · 100956". Where the pane is
    narrow (40 % of 80 columns) the name is cut, never the EMR id: staff check the number."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.who, self.number = "", ""

    def show(self, who: str, number: str) -> None:
        self.who, self.number = who, number
        self.refresh()

    def render(self) -> Text:
        number = Text(self.number)
        who = Text(self.who, no_wrap=True, overflow="ellipsis")
        who.truncate(max(0, self.content_region.width - number.cell_len), overflow="ellipsis")
        return who + number


class TemplateEditorScreen(DraftOffer[None]):
    # the footer shows them in FOOTER_ORDER: a draft's keys while one is offered, save,
    # what a message is made of and tried with, the formatting (at 80 columns, the last
    # of them and the text part go behind `?`), esc as on every screen; ctrl+g for bold,
    # since ctrl+b is tmux's prefix
    FOOTER_ORDER = (
        "template.restore_draft",
        "template.discard_draft",
        "template.save",
        "template.variable",
        "template.test",
        "template.patient",
        "template.bold",
        "template.italic",
        "template.link",
        "template.list",
        "template.part",
        "template.back",
    )
    BINDINGS = [
        # shown only while a draft is offered (tui/screens/drafts.py): first, where the eye goes
        *draft_bindings("template"),
        Binding("ctrl+o,ctrl+s", "save", N_("Save"), priority=True, id="template.save"),
        Binding("escape", "back", N_("Back"), key_display="esc", id="template.back"),
        Binding(
            "f2", "variable", N_("Variable"), tooltip=N_("Insert a variable at the cursor"), id="template.variable"
        ),
        Binding(
            "f3", "patient", N_("Preview for"), tooltip=N_("Choose the patient of the preview"), id="template.patient"
        ),
        Binding(
            "f6",
            "preview_part",
            N_("Text part"),
            tooltip=N_("The email as HTML or as its text part"),
            # before the body's own f6 (Textual's TextArea: select the line, which the next
            # key then replaced — an edit lost while the preview did not change)
            priority=True,
            id="template.part",
        ),
        Binding("f5", "test_send", N_("Test"), tooltip=N_("Send yourself a test of the preview"), id="template.test"),
        Binding("ctrl+g", "markdown('bold')", N_("Bold"), id="template.bold"),
        Binding("ctrl+t", "markdown('italic')", N_("Italic"), id="template.italic"),
        Binding("ctrl+l", "markdown('link')", N_("Link"), id="template.link"),
        Binding("ctrl+r", "markdown('list')", N_("List"), id="template.list"),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.kind: str | None = None
        self.saved: dict[str, dict[str, str]] = {}
        self.patient_id: int | None = None
        self.preview_emr_id = ""
        self._timer: Timer | None = None
        self._refused = False  # the last save was refused (its problems are on show)
        self._problem_lines: list[str] = []  # the problems on show (core's words)
        self.show_text = False  # an invitation's preview: the HTML part as it reads (False) or the text part
        self.name_shown = _("campaign #{id}").format(id=campaign_id)
        self.name_loaded = ""  # the campaign's name, once read (the title shows it)
        self._last_preview = None  # the last preview shown (redrawn after a language switch)
        self.sending = SendingControl(self, self)

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield draft_line()
        with Horizontal(id="template-row"):
            yield Vertical(id="template-editor")
            with Vertical(id="preview-pane") as pane:
                pane.border_title = _("Preview")
                yield PreviewWho(id="preview-who")
                with VerticalScroll(id="preview-scroll"):
                    yield Static(id="preview-head")
                    yield Markdown(id="preview-body")
                    yield Static(id="preview-text", classes="hidden")
                    yield Static(id="preview-push")
        yield Static(id="template-problems", classes="error")
        yield StatusLine()
        yield KeysFooter(show_command_palette=False)

    def title_text(self) -> str:
        return _("Template · {name}").format(name=self.name_loaded) if self.name_loaded else _("Template")

    def relabel(self) -> None:
        super().relabel()
        for label in self.query(".template-line > .label").results(Static):
            field = (label.id or "").rpartition("-label-")[2]
            if field in FIELD_LABELS:
                label.update(_(FIELD_LABELS[field]))
        for title in self.query(".field-title").results(Static):
            title.update(_("Body (Markdown)"))
        for lang in templating.LANGUAGES:
            for push in self.query(f"#{lang}-push").results(Input):
                push.placeholder = push_hint()
        self.query_one("#preview-pane").border_title = _("Preview")
        for tabs in self.query(TabbedContent).results(TabbedContent):
            for lang in templating.LANGUAGES:
                tabs.get_tab(f"tab-{lang}").label = lang_name(lang)
        self._set_problems(self._problem_lines)
        self.show_offer()
        if self.kind is not None:
            self._preview_now()

    def on_mount(self) -> None:
        self.title = self.title_text()
        self.query_one("#template-editor").loading = True
        self._load()

    # --- loading -------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="template")
    async def _load(self) -> None:
        c = await asyncio.to_thread(campaigns.get, self.campaign_id)
        templates = await asyncio.to_thread(campaigns.get_templates, self.app.ctx, c.id)
        draft = await self.read_draft()
        self.kind, self.saved = c.kind, templates
        self.refresh_bindings()  # f6 (text part) is an email's
        self.name_shown = self.name_loaded = c.name
        self.title = self.title_text()
        editor = self.query_one("#template-editor")
        editor.loading = False
        tabs = TabbedContent(id="template-tabs")
        await editor.mount(tabs)
        for lang in templating.LANGUAGES:
            await tabs.add_pane(TabPane(lang_name(lang), *self._fields(lang, templates[lang]), id=f"tab-{lang}"))
        tabs.active = f"tab-{self.app.ctx.config.clinic.default_language}"
        first = templating.FIELDS[self.kind][0]
        self.set_focus(self.query_one(f"#{self.active_language()}-{first}"))
        self._inputs_home()
        self._preview_soon()
        self.offer_draft(draft)

    def _inputs_home(self) -> None:
        """Show the start of each one-line field, not its end. Each field does it from its
        own queue, so after the Focus event set_focus just posted (focusing an Input selects
        all of it, cursor at the end): in that order whatever the machine's load."""
        for box in self.query(".template-line Input").results(Input):
            box.call_later(box.action_home)

    def fields(self) -> tuple[str, ...]:
        """The template's fields (none before the campaign is read)."""
        return templating.FIELDS[self.kind] if self.kind else ()

    def _fields(self, lang: str, values: dict[str, str]) -> Iterator[Widget]:
        for field in self.fields():
            value = values.get(field, "")
            if field == "body":
                yield Static(_("Body (Markdown)"), classes="field-title")
                yield TextArea(
                    value,
                    id=f"{lang}-body",
                    soft_wrap=True,
                    show_line_numbers=True,
                    tab_behavior="focus",
                    classes="template-body",
                    compact=True,
                )
            else:
                row = Horizontal(
                    Static(_(FIELD_LABELS[field]), classes="label", id=f"{lang}-label-{field}"),
                    TextInput(
                        value,
                        id=f"{lang}-{field}",
                        compact=True,
                        placeholder=push_hint() if field == "push" else "",
                    ),
                    classes="template-line",
                )
                if field == "push":
                    row.compose_add_child(Static("", id=f"{lang}-push-count", classes="push-count"))
                yield row
        yield Static("", id=f"{lang}-problems", classes="error field-problems")

    # --- values --------------------------------------------------------------------

    def active_language(self) -> str:
        tabs = self.query(TabbedContent)
        if not tabs or not tabs.first().active:
            return self.app.ctx.config.clinic.default_language
        return tabs.first().active.removeprefix("tab-")

    def values(self, lang: str) -> dict[str, str]:
        out = {}
        for field in self.fields():
            w = self.query_one(f"#{lang}-{field}")
            out[field] = w.text if isinstance(w, TextArea) else w.value if isinstance(w, Input) else ""
        return out

    def all_values(self) -> dict[str, dict[str, str]]:
        return {lang: self.values(lang) for lang in templating.LANGUAGES}

    def dirty(self) -> bool:
        return self.kind is not None and self.all_values() != {
            lang: {f: self.saved[lang].get(f, "") for f in templating.FIELDS[self.kind]}
            for lang in templating.LANGUAGES
        }

    # --- a draft left by a session that ended (tui/screens/drafts.py) ------------------

    def draft_campaign(self) -> int | None:
        return self.campaign_id

    def draft_values(self) -> drafts.Values:
        return self.all_values()

    def draft_saved(self) -> drafts.Values:
        return {lang: {f: self.saved.get(lang, {}).get(f, "") for f in self.fields()} for lang in templating.LANGUAGES}

    def put_draft(self, values: drafts.Values) -> None:
        for lang, fields in values.items():
            for field, text in fields.items():
                w = self.query_one(f"#{lang}-{field}")
                if isinstance(w, TextArea):
                    w.text = text
                elif isinstance(w, Input):
                    w.value = text
        self._inputs_home()

    # --- live preview --------------------------------------------------------------

    @on(TextArea.Changed)
    @on(Input.Changed)
    def _edited(self) -> None:
        self._refused = False  # a refused save is news only until the text changes
        self._preview_soon()

    @on(TabbedContent.TabActivated)
    def _preview_soon(self) -> None:
        if self.kind is None:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PREVIEW_DELAY, self._preview_now)

    def _preview_now(self) -> None:
        lang = self.active_language()
        self._preview(self.values(lang), lang, self.patient_id)

    @work(exclusive=True, exit_on_error=False, group="preview")
    async def _preview(self, fields: dict[str, str], lang: str, patient_id: int | None) -> None:
        p = await asyncio.to_thread(views.template_preview, self.app.ctx, self.campaign_id, fields, lang, patient_id)
        self.patient_id = p.patient_id
        self.preview_emr_id = p.emr_id
        who = _("for {patient}").format(patient=p.patient_name) if p.patient else _("for an example patient")
        self.query_one(PreviewWho).show(who, f" · {p.emr_id}" if p.patient else "")
        head = self.query_one("#preview-head", Static)
        first = "subject" if self.kind == Kind.INVITATION else "title"
        head.update(p.fields.get(first) or p.errors.get(first) or "")
        head.set_class(first in p.errors, "error")
        body = p.fields.get("body")
        text_part = self.kind == Kind.INVITATION and self.show_text and body is not None
        if self.kind == Kind.INVITATION and body is not None and not self.show_text:
            body = p.body_markdown  # as the HTML part reads: bold, lists and links shown (f6: the text part)
        self.query_one("#preview-text", Static).update(Text(body or "") if text_part else "")
        self.query_one("#preview-text").set_class(not text_part, "hidden")
        self.query_one("#preview-body").set_class(text_part, "hidden")
        if not text_part:
            # the msgid outside the f-string: Babel never extracts a call written inside one
            missing = p.errors.get("body", _("no body yet"))
            # the error as written, in italics: its own * and _ (« '*' inattendu ») are text
            said = re.sub(r"([\\`*_{}\[\]()#+.!|<>~-])", r"\\\1", missing)
            await self.query_one("#preview-body", Markdown).update(body if body is not None else f"*{said}*")
        pane = self.query_one("#preview-pane")
        if self.kind == Kind.INVITATION:
            pane.border_title = _("Preview · text part") if self.show_text else _("Preview · as the email reads")
        push = self.query_one("#preview-push", Static)
        if self.kind == Kind.BROADCAST:
            text = p.fields.get("push") or p.errors.get("push") or ""
            push.update(_("Push: {text}").format(text=text) if text else "")
            counter = self.query(f"#{p.language}-push-count")
            if counter:
                n = p.push_length or 0
                counter.first(Static).update(f"{n} / {templating.PUSH_MAX_CHARS}")
                counter.first(Static).set_class(n > templating.PUSH_MAX_CHARS, "too-long")
        self._set_problems(p.problems)

    # --- formatting ----------------------------------------------------------------

    def action_markdown(self, how: str) -> None:
        area = self.focused
        if not isinstance(area, TextArea):
            self.notify(_("Formatting applies to the body: tab to it first"), timeout=3)
            return
        selected = area.selected_text
        start, end = sorted((area.selection.start, area.selection.end))
        if how in ("bold", "italic"):
            mark = "**" if how == "bold" else "*"
            area.replace(f"{mark}{selected}{mark}", start, end)
            if not selected:
                area.move_cursor((start[0], start[1] + len(mark)))
        elif how == "link":
            label = selected or _("link text")
            area.replace(f"[{label}](https://)", start, end)
            if selected:  # cursor where the address goes
                area.move_cursor((start[0], start[1] + len(label) + len("](https://") + 1))
            else:
                area.selection = Selection((start[0], start[1] + 1), (start[0], start[1] + 1 + len(label)))
        elif how == "list":
            first, last = start[0], end[0]
            lines = [area.document.get_line(i) for i in range(first, last + 1)]
            if all(line.startswith("- ") for line in lines):
                new = [line[2:] for line in lines]
            else:
                new = [line if line.startswith("- ") else f"- {line}" for line in lines]
            area.replace("\n".join(new), (first, 0), (last, len(lines[-1])))
            area.move_cursor((last, len(new[-1])))

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "preview_part":  # an email has two parts; a broadcast only its Markdown
            return self.kind == Kind.INVITATION
        return super().check_action(action, parameters)  # f7 / f8 while a draft is offered

    def action_preview_part(self) -> None:
        """f6: the email as its HTML part reads, or its text part."""
        self.show_text = not self.show_text
        self._preview_now()

    def action_variable(self) -> None:
        target = self.focused
        if not isinstance(target, (TextArea, Input)) or self.kind is None:
            self.notify(_("Put the cursor in a field first"), timeout=3)
            return
        field = (target.id or "-").split("-", 1)[1]
        from tui.screens.pickers import VariablePicker

        def insert(name: str | None) -> None:
            target.focus()
            if not name:
                return
            text = "{{ " + name + " }}"
            if isinstance(target, TextArea):
                target.replace(text, *sorted((target.selection.start, target.selection.end)))
            else:
                target.insert_text_at_cursor(text)

        self.app.push_screen(VariablePicker(self.kind, field, self.active_language()), insert)

    def action_patient(self) -> None:
        from tui.screens.pickers import PatientPicker

        def chosen(patient_id: int | None) -> None:
            if patient_id is not None:
                self.patient_id = patient_id
                self._preview_now()

        self.app.push_screen(PatientPicker(lambda: _("Preview the template for…")), chosen)

    # --- a test send (tui.screens.sending) --------------------------------------------

    def action_test_send(self) -> None:
        self.sending.test_send()

    def campaign_kind(self) -> str | None:
        return self.kind

    def campaign_name(self) -> str:
        return self.name_shown

    def sending_changed(self) -> None:
        pass

    def test_patient(self) -> tuple[str, int | None]:
        return self.preview_emr_id, self.patient_id

    def unsaved_changes(self) -> bool:
        return self.kind is not None and self.all_values() != self.saved

    # --- saving --------------------------------------------------------------------

    @typed_first
    def action_save(self) -> None:
        if self.kind is not None and not self.running("save"):
            self.save_flow(self.kind, self.all_values())

    @work(exclusive=True, exit_on_error=False, group="save")
    async def save_flow(self, kind: str, templates: dict[str, dict[str, str]]) -> None:
        ctx = self.app.ctx
        problems = await asyncio.to_thread(template_problems, ctx, kind, templates)
        if problems:
            self._show_problems(problems)
            return
        gaps = await asyncio.to_thread(campaigns.language_gaps, ctx, self.campaign_id, templates)
        if gaps:

            def message() -> str:
                said = "\n".join(f"{str(g)[0].upper()}{str(g)[1:]}." for g in gaps)
                return said + "\n\n" + _("Save anyway, or write that version first?")

            ask = ConfirmModal(
                lambda: _("A version is empty"), message, yes=lambda: _("Save anyway"), no=lambda: _("Back to editing")
            )
            if not await self.app.push_screen_wait(ask):
                return
        await asyncio.to_thread(campaigns.save_templates, ctx, self.campaign_id, templates)
        self.saved = templates
        self.draft_saved_now()
        self._refused = False
        self._set_problems([])
        self.notify(_("Template saved"), timeout=3)

    def _set_problems(self, lines: list[str]) -> None:
        """The problems under the editor; after a refused save, until the next edit, they
        say so (the live preview refreshes them with the same words)."""
        self._problem_lines = lines
        more = len(lines) - 5
        text = "\n".join(lines[:5])
        if more > 0:
            text += "\n" + ngettext("… and {n} more problem", "… and {n} more problems", more).format(n=more)
        if text and self._refused:
            text = _("Not saved — {problems}").format(problems=text)
        self.query_one("#template-problems", Static).update(text)

    def _show_problems(self, problems: list[templating.TemplateProblem]) -> None:
        lines = [str(p) for p in problems]
        self._refused = True
        self._set_problems(lines)
        first = problems[0]
        self.query_one(TabbedContent).active = f"tab-{first.language}"
        target = self.query(f"#{first.language}-{first.field}")
        if target:
            w = target.first()
            w.focus()
            if isinstance(w, TextArea) and first.line:
                w.move_cursor((first.line - 1, 0))
        self.notify(_("Not saved: {problem}").format(problem=lines[0]), severity="error", markup=False, timeout=6)

    def unsaved(self) -> Callable[[], str] | None:
        return (lambda: _("the template")) if self.dirty() else None

    def action_back(self) -> None:
        leave_unless_unsaved(self, self.app.pop_screen)

    def palette_commands(self):
        return [
            (_("Save the template"), "ctrl+o", self.action_save),
            (_("Insert a variable"), _("At the cursor (f2)"), self.action_variable),
            (_("Preview for another patient"), "f3", self.action_patient),
            (_("Send me a test"), _("The saved template, for the preview's patient (f5)"), self.action_test_send),
        ]

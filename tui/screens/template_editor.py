"""The template editor (SPEC §3): French and English tabs, the fields of the kind, a
Markdown body with formatting keys, a variable picker, a live preview for a real patient,
the push length counter; saving refuses a template with problems and shows where."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import (
    Footer,
    Header,
    Input,
    Markdown,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.text_area import Selection

from core import campaigns, templating, views
from core.campaigns.actions import template_problems
from core.enums import Kind
from tui.screens.base import ClinicastScreen
from tui.screens.modals import ConfirmModal
from tui.screens.sending import SendingControl
from tui.widgets.status_line import StatusLine

LANG_NAMES = {"fr": "Français", "en": "English"}
FIELD_LABELS = {"subject": "Subject", "title": "Title", "body": "Body", "push": "Push"}
PREVIEW_DELAY = 0.25


class TemplateEditorScreen(ClinicastScreen[None]):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, id="template.save"),
        Binding("escape", "back", "Back", key_display="esc", id="template.back"),
        Binding("f2", "variable", "Variable", tooltip="Insert a variable at the cursor", id="template.variable"),
        Binding("f3", "patient", "Preview for", tooltip="Choose the patient of the preview", id="template.patient"),
        Binding("ctrl+b", "markdown('bold')", "Bold", id="template.bold"),
        Binding("ctrl+t", "markdown('italic')", "Italic", id="template.italic"),
        Binding("ctrl+l", "markdown('link')", "Link", id="template.link"),
        Binding("ctrl+r", "markdown('list')", "List", id="template.list"),
        Binding(
            "f5",
            "test_send",
            "Test",
            tooltip="Send yourself a test for the preview's patient",
            show=False,
            id="template.test",
        ),
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
        self.name_shown = f"campaign #{campaign_id}"
        self.sending = SendingControl(self, self)

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        with Horizontal(id="template-row"):
            yield Vertical(id="template-editor")
            with Vertical(id="preview-pane") as pane:
                pane.border_title = "Preview"
                yield Static(id="preview-who")
                with VerticalScroll(id="preview-scroll"):
                    yield Static(id="preview-head")
                    yield Markdown(id="preview-body")
                    yield Static(id="preview-push")
        yield Static(id="template-problems", classes="error")
        yield StatusLine()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "Template"
        self.query_one("#template-editor").loading = True
        self._load()

    # --- loading -------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="template")
    async def _load(self) -> None:
        c = await asyncio.to_thread(campaigns.get, self.campaign_id)
        templates = await asyncio.to_thread(campaigns.get_templates, self.app.ctx, c.id)
        self.kind, self.saved = c.kind, templates
        self.title = f"Template · {c.name}"
        self.name_shown = c.name
        editor = self.query_one("#template-editor")
        editor.loading = False
        tabs = TabbedContent(id="template-tabs")
        await editor.mount(tabs)
        for lang in templating.LANGUAGES:
            await tabs.add_pane(TabPane(LANG_NAMES[lang], *self._fields(lang, templates[lang]), id=f"tab-{lang}"))
        tabs.active = f"tab-{self.app.ctx.config.clinic.default_language}"
        first = templating.FIELDS[self.kind][0]
        self.set_focus(self.query_one(f"#{self.active_language()}-{first}"))
        self._inputs_home()
        self._preview_soon()

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
                yield Static("Body (Markdown)", classes="field-title")
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
                    Static(FIELD_LABELS[field], classes="label"),
                    Input(
                        value,
                        id=f"{lang}-{field}",
                        compact=True,
                        placeholder="plain text, at most 178 characters" if field == "push" else "",
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
        who = self.query_one("#preview-who", Static)
        who.update(f"for {p.patient or 'an example patient'}")
        head = self.query_one("#preview-head", Static)
        first = "subject" if self.kind == Kind.INVITATION else "title"
        head.update(p.fields.get(first) or p.errors.get(first) or "")
        head.set_class(first in p.errors, "error")
        body = p.fields.get("body")
        if self.kind == Kind.INVITATION and body is not None:
            body = "\n".join(line + "  " for line in body.splitlines())  # keep the text's line breaks
        self.query_one("#preview-body", Markdown).update(
            body if body is not None else f"*{p.errors.get('body', 'no body yet')}*"
        )
        push = self.query_one("#preview-push", Static)
        if self.kind == Kind.BROADCAST:
            text = p.fields.get("push") or p.errors.get("push") or ""
            push.update(f"Push: {text}" if text else "")
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
            self.notify("Formatting applies to the body: tab to it first", timeout=3)
            return
        selected = area.selected_text
        start, end = sorted((area.selection.start, area.selection.end))
        if how in ("bold", "italic"):
            mark = "**" if how == "bold" else "*"
            area.replace(f"{mark}{selected}{mark}", start, end)
            if not selected:
                area.move_cursor((start[0], start[1] + len(mark)))
        elif how == "link":
            label = selected or "link text"
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

    def action_variable(self) -> None:
        target = self.focused
        if not isinstance(target, (TextArea, Input)) or self.kind is None:
            self.notify("Put the cursor in a field first", timeout=3)
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

        self.app.push_screen(PatientPicker("Preview the template for…"), chosen)

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
        await asyncio.to_thread(campaigns.save_templates, ctx, self.campaign_id, templates)
        self.saved = templates
        self._refused = False
        self._set_problems([])
        self.notify("Template saved", timeout=3)

    def _set_problems(self, lines: list[str]) -> None:
        """The problems under the editor; after a refused save, until the next edit, they
        say so (the live preview refreshes them with the same words)."""
        more = f"\n… and {len(lines) - 5} more" if len(lines) > 5 else ""
        text = "\n".join(lines[:5]) + more
        if text and self._refused:
            text = "Not saved — " + text
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
        self.notify(f"Not saved: {lines[0]}", severity="error", markup=False, timeout=6)

    def action_back(self) -> None:
        if not self.dirty():
            self.app.pop_screen()
        elif not self.running("back"):
            self.back_flow()

    @work(exclusive=True, exit_on_error=False, group="back")
    async def back_flow(self) -> None:
        message = "Leave the template without saving? Your changes will be lost."
        discard = ConfirmModal("Unsaved changes", message, yes="Discard", danger=True)
        if await self.app.push_screen_wait(discard):
            self.app.pop_screen()

    def palette_commands(self):
        return [
            ("Save the template", "ctrl+s", self.action_save),
            ("Insert a variable", "At the cursor (f2)", self.action_variable),
            ("Preview for another patient", "f3", self.action_patient),
            ("Send me a test", "The saved template, for the preview's patient (f5)", self.action_test_send),
        ]

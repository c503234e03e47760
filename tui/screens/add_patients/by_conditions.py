"""The dialog's conditions tab: rows of FIELD OP VALUE, counted by core's preview as they
change (each row's mistake or warning under it, the count beside Assign), then one assign."""

from __future__ import annotations

import asyncio
import functools

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from core import conditions, recipients
from core.errors import ClinicastError
from core.i18n import _, ngettext
from tui import format as fmt
from tui.screens.add_patients.common import AddPatientsBase
from tui.screens.add_patients.words import nothing_to_add, unknown_confirm
from tui.widgets.condition_row import ConditionRow

COUNT_DELAY = 0.3


class ConditionsTab(AddPatientsBase):
    def compose_conditions(self) -> ComposeResult:
        yield Static(self._hint(), classes="hint", id="conditions-hint")
        with VerticalScroll(id="condition-rows"):
            yield ConditionRow()
        with Horizontal(classes="add-actions"):
            yield Button(_("+ condition"), id="add-row", compact=True)
            yield Static("", id="match-count")
            yield Button(_("Assign"), id="assign-conditions", variant="primary", compact=True, disabled=True)

    def _hint(self) -> str:
        """Names the key that adds a row as the footer shows it ("^n"): [keys] may move it."""
        return _("Patients matching every row are added. {key} adds a row.").format(key=self.key_for("add_row"))

    def relabel_conditions(self) -> None:
        """The tab's words again; the rows' fields keep theirs until chosen again."""
        self.query_one("#conditions-hint", Static).update(self._hint())
        self.query_one("#add-row", Button).label = _("+ condition")
        self._count_now()

    @on(Button.Pressed, "#add-row")
    async def action_add_row(self) -> None:
        row = ConditionRow()
        await self.query_one("#condition-rows").mount(row)
        row.query_one(".cond-field").focus()
        self._count_soon()

    @on(ConditionRow.Delete)
    async def _delete_row(self, event: ConditionRow.Delete) -> None:
        await event.row.remove()
        if not self.query(ConditionRow):
            await self.action_add_row()
        self._count_soon()

    @on(ConditionRow.Changed)
    def _count_soon(self) -> None:
        if self._rows_said:  # why the rows added nobody: moot once they change
            self._rows_said = False
            self._message("")
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(COUNT_DELAY, self._count_now)

    def _count_now(self) -> None:
        self._count(self._rows())

    def _rows(self) -> list[tuple[ConditionRow, tuple[str, str, str] | None]]:
        return [(row, row.parts()) for row in self.query(ConditionRow)]

    @work(exclusive=True, exit_on_error=False, group="count")
    async def _count(self, rows) -> None:
        await self._preview(rows)

    async def _preview(self, rows) -> tuple[list[conditions.Condition] | None, recipients.AssignPreview | None]:
        """The rows' conditions (None while one is not filled in or wrong) and what core's
        preview says of them — the count, and the values no patient has — shown: each
        row's mistake or warning under it, the count beside the Assign button."""
        conds: list[conditions.Condition] = []
        errors: list[tuple[ConditionRow, str, conditions.Condition | None]] = []
        for row, parts in rows:
            if parts is None:
                errors.append((row, "", None))
                continue
            try:
                made = conditions.make(*parts, shown=conditions.words(*parts))
                conds.append(made)
                errors.append((row, "", made))
            except ClinicastError as e:
                errors.append((row, str(e), None))
        complete = bool(conds) and len(conds) == len(rows)
        # what the assign would do, counted by core with the assign's own consent rules
        preview = (
            await asyncio.to_thread(recipients.preview_conditions, self.app.ctx, self.campaign_id, conds)
            if complete
            else None
        )
        n = preview.matched if preview is not None else None
        unknown = {(u.condition.field, u.condition.value): u for u in (preview.unknown if preview else [])}
        for row, message, cond in errors:
            if not row.is_mounted:
                continue
            if message or cond is None:
                row.show_error(message)
            else:
                row.show_warning(unknown.get((cond.field, cond.value)))
        self.conds, self.match_count = (conds if complete else None), n
        label = self.query_one("#match-count", Static)
        button = self.query_one("#assign-conditions", Button)
        if n is None:
            label.update(Text(_("complete every row to count"), style="dim"))
            button.disabled = True
            button.label = _("Assign")
        elif n > recipients.LIMIT:
            label.update(
                Text(
                    ngettext(
                        "{n} patient matches: more than {limit}, the most one assign adds. "
                        "Add a condition to narrow it.",
                        "{n} patients match: more than {limit}, the most one assign adds. "
                        "Add a condition to narrow it.",
                        n,
                    ).format(n=fmt.num(n), limit=fmt.num(recipients.LIMIT)),
                    style="bold red",
                )
            )
            button.disabled = True
            button.label = _("Assign")
        else:
            assert preview is not None
            label.update(Text(preview.line(), style="bold green" if preview.added else "yellow"))
            button.disabled = n == 0
            # the patients this assign adds, as the preview says: the others matched are
            # on the campaign already, or written as skipped with their reason
            added = preview.added
            button.label = _("Assign {n}").format(n=fmt.num(added)) if added else _("Assign")
        return (conds if complete else None), preview

    @on(Button.Pressed, "#assign-conditions")
    def _assign_conditions_pressed(self) -> None:
        if not self.running("assign"):
            self.conditions_flow()

    @work(exclusive=True, exit_on_error=False, group="assign")
    async def conditions_flow(self) -> None:
        """Assign by the rows as they are now (counted afresh, not the last count the
        debounce left): nothing to add is said, not silently ignored; a value no patient
        has (core's warning at its row) is confirmed first, naming it and the count."""
        if self._timer is not None:
            self._timer.stop()
        conds, preview = await self._preview(self._rows())
        if conds is None or preview is None or not 0 < preview.matched <= recipients.LIMIT:
            self._message(nothing_to_add(preview if conds else None))
            self._rows_said = True
            return
        if preview.unknown and preview.added and not await self.app.push_screen_wait(unknown_confirm(preview)):
            return
        assign = functools.partial(recipients.assign_conditions, unknown_ok=bool(preview.unknown))
        self._message("")
        await self._assigned(assign, conds)

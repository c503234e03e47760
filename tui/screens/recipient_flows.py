"""The flows of the recipient screen's keys (SPEC §4, §7): add patients, remove the
selected one, start, export the ledger — and the words they say. Each flow but adding
is one linear worker of the screen: ask core (in a thread), confirm, act (in a thread),
say what was done; adding opens its dialog at once (a key typed after `a` is its). The
screen holds one (`RecipientFlows(self)`) and its keys call `add(kind)`, `remove(row)`,
`start(summary)`, `export()`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from core import campaigns, i18n, recipients
from core.i18n import _
from tui.screens.modals import ConfirmModal

if TYPE_CHECKING:
    from tui.screens.recipients import RecipientsScreen


class RecipientFlows:
    """The screen's flows, run as its workers (group "remove", "start", "export": the
    screen's keys do nothing while theirs is under way); adding is a dialog, opened by
    the key itself (`add`)."""

    def __init__(self, screen: RecipientsScreen) -> None:
        self.screen = screen

    def _run(self, flow: Coroutine[Any, Any, None], group: str, name: str) -> None:
        self.screen.run_worker(flow, name=name, group=group, exclusive=True, exit_on_error=False)

    def export(self) -> None:
        self._run(self._export(), "export", "export_flow")

    async def _export(self) -> None:
        """The recipient ledger as CSV (core.exports: owner-only file, audited). Over SSH a
        file written here would be on the server, out of reach of staff without a shell:
        the dialog gives the command that brings it through the connection (core.ssh) and
        writes nothing. It offered « Write a copy on the server », for an administrator with
        a shell there; to the receptionist under ForceCommand it was a button that left
        patients' names on the server, in a file she can never fetch nor delete. Over SSH
        the TUI reads no server file by path (the CSV tab) and writes none either; an
        administrator at a shell has the command line (`--csv --output FILE`)."""
        import os

        from core import exports, ssh

        screen = self.screen
        if ssh.over_ssh():
            how = ssh.ledger_over_ssh(screen.app.ctx, screen.campaign_id)
            ask = ConfirmModal(
                lambda: _("Export over SSH"),
                lambda: _(
                    "This session runs on the clinic's server: the ledger comes to your computer "
                    "through the SSH connection. In a terminal on your computer:\n\n"
                    "  {unix}\n\n"
                    "Windows (PowerShell):\n\n"
                    "  {windows}\n\n"
                    "({alias}: the name you give ssh for this server, or {host})"
                ).format(unix=how.unix, windows=how.windows, alias=how.alias, host=how.host),
                no=lambda: _("Close"),
                notice=True,
            )
            await screen.app.push_screen_wait(ask)
            return
        folder = screen.app.start_folder or os.getcwd()
        path = await asyncio.to_thread(exports.write_recipients_csv, screen.app.ctx, screen.campaign_id, folder)
        screen.notify(
            _("The recipient ledger is in {path}").format(path=path), title=_("Exported"), markup=False, timeout=8
        )

    def add(self, kind: str) -> None:
        """The Add-patients dialog, shown by the key itself rather than by a worker that
        starts later: a key typed in the same burst (F4 after `a`, over SSH) goes to it,
        not to the list beneath."""
        from tui.screens.add_patients import AddPatientsModal

        screen = self.screen
        modal = AddPatientsModal(screen.campaign_id, kind, start_folder=screen.app.start_folder)
        screen.app.push_screen(modal, callback=self._added)

    def _added(self, result: recipients.AssignResult | None) -> None:
        if result is None:
            return
        screen = self.screen
        screen.notify(assign_message(result), title=_("Patients added"), markup=False, timeout=6)
        screen.changed()

    def remove(self, r: recipients.RecipientRow) -> None:
        self._run(self._remove(r), "remove", "remove_flow")

    async def _remove(self, r: recipients.RecipientRow) -> None:
        screen = self.screen
        ctx = screen.app.ctx
        effects = {
            i18n.current(): await asyncio.to_thread(recipients.removal_effect, ctx, screen.campaign_id, r.emr_id)
        }
        campaign = screen.campaign_name()

        def message() -> str:
            if i18n.current() not in effects:  # the language switched with the dialog open: one row read again
                effects[i18n.current()] = recipients.removal_effect(ctx, screen.campaign_id, r.emr_id)
            effect = effects[i18n.current()]
            question = _("Remove {name} (EMR {emr_id}) from “{campaign}”?").format(
                name=r.name, emr_id=r.emr_id, campaign=campaign
            )
            return f"{question}\n\n{effect[0].upper()}{effect[1:]}."

        confirm = ConfirmModal(lambda: _("Remove recipient"), message, yes=lambda: _("Remove"), danger=True)
        if not await screen.app.push_screen_wait(confirm):
            return
        # the session as it is now: a permission taken away while the dialog was open applies
        outcome = await asyncio.to_thread(recipients.remove, screen.app.ctx, screen.campaign_id, r.emr_id)
        said = _("{name} removed: {outcome}").format(name=r.name, outcome=outcome.words())
        screen.notify(said, markup=False, timeout=6)
        screen.app.wake_scheduler()
        screen.load_summary()
        screen.table.reload_shown()

    def start(self, s: campaigns.CampaignSummary) -> None:
        self._run(self._start(s), "start", "start_flow")

    async def _start(self, s: campaigns.CampaignSummary) -> None:
        screen = self.screen
        ctx = screen.app.ctx
        # whether anything sends them: a daemon alive, or this session's embedded scheduler
        plan = await asyncio.to_thread(recipients.start_plan, ctx, screen.campaign_id, screen.app.scheduler)
        if plan.will_send == 0 and not plan.skipped:
            # core's words (the command line's), and where to go from here
            said = recipients.nothing_to_start(screen.campaign_id, plan)
            said = _("{refusal}. Press {key} to add patients.").format(
                refusal=said[:1].upper() + said[1:], key=screen.key_for("add")
            )
            screen.notify(said, markup=False, timeout=6)
            return
        gaps = await asyncio.to_thread(campaigns.language_gaps, ctx, screen.campaign_id)

        def message() -> str:
            said = plan.breakdown()  # core's words: how many go and when, who is left out and why
            if gaps:  # a blank version: its speakers get the default language (core.campaigns.languages)
                said += "\n\n" + "\n".join(_("Warning: {gap}.").format(gap=g) for g in gaps)
            return said

        confirm = ConfirmModal(lambda: _("Start “{name}”").format(name=s.name), message, yes=lambda: _("Start"))
        if not await screen.app.push_screen_wait(confirm):
            return
        # the session as it is now
        plan = await asyncio.to_thread(recipients.start, screen.app.ctx, screen.campaign_id, screen.app.scheduler)
        screen.notify(plan.done(), title=_("Campaign started"), markup=False, timeout=6)
        screen.changed()


def assign_message(r: recipients.AssignResult) -> str:
    """What an assign did, in core's words (AssignResult.words)."""
    return r.words()

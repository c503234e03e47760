"""The TUI's screens and modals, one module each (a screen calls one core function per
user action and shows the result).

    base.py              ClinicastScreen / ClinicastModal: `self.app` typed as ClinicastApp
    campaign_list.py     the first screen
    campaign_detail.py   the create / edit form
    recipients.py        one campaign: counts, progress, the table, its keys
    recipient_flows.py   the flows of its keys: add, remove, start, export, and their words
    recipient_detail.py  one recipient in full (an audited read)
    add_patients/        one patient, conditions or a CSV list (a module a tab)
    template_editor.py   French and English tabs, live preview
    drafts.py            a form's draft: written as typed, the line offering it back, f7 restore, f8 discard
    sending.py           stop, re-invite and test send (SendingControl, held by a screen)
    opt_out.py           the opt-out modal and OptOutFlow (held by a screen or widget)
    audit.py             the audit trail (admin)
    keys.py              every key of the screen below, with its id for [keys]
    modals.py            small modals returning a typed value (confirm)
    pickers.py           the variable and patient pickers
    problem.py           what stops clinicast from opening, and what to do
    opening.py           open_session: config, database, user — or the Problem problem.py shows
"""

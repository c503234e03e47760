"""The clinicast TUI: screens and widgets only, every rule in `core`; the
command line opens it (`tui.app.run`).

    app.py          the app factory; opening, the tick (config file, who sends), the embedded scheduler
    app.tcss        the one stylesheet
    preferences.py  the staff member's theme and language: applied, switched, remembered
    hangup.py       the session ends with its connection: SIGHUP, a terminal gone
    typeahead.py    keys typed ahead taken in order (`typed_first`), f10 asks before losing an edit
    commands.py     the command palette: the current screen's actions
    keys.py         the config's [keys]: checked, then Textual's keymap
    format.py       how dates, counts and statuses look (presentation only)
    typography.py   no line break at a no-break space
    services.py     glue to the embedded scheduler
    workers.py      flows as linear workers; the one place a worker's failure shows
    screens/        one module a screen (see its __init__)
    widgets/        small reusable pieces (see its __init__)
"""

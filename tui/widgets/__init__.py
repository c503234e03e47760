"""Small reusable pieces the screens are built from,
one module each.

    recipient_table.py  the paged recipient table
    condition_row.py    one row of the conditions builder
    patient_search.py   search as you type
    choice.py           a RadioSet whose arrow keys choose at once
    status_line.py      who is logged in, whether deliveries are being sent, the global keys
    footer.py           the screen's keys most needed first (FOOTER_ORDER), each whole, the help key at the right
    text_input.py       the one-line text field (focus never selects its text; a pasted list whole)
"""

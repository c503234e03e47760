"""The add-patients dialog (SPEC §4), one module a part:

dialog.py         AddPatientsModal: the three tabs together, their keys, focus, closing
common.py         what the tabs share: the dialog's state, its message line, the assign
one_patient.py    search one patient and add them (the dialog stays open)
by_conditions.py  condition rows, counted by core's preview, then one assign
csv_list.py       a CSV file or a pasted list of EMR ids, its report, then one assign
words.py          the words built from core's results (nothing added, a value no
                  patient has, the CSV report)
"""

from tui.screens.add_patients.by_conditions import COUNT_DELAY
from tui.screens.add_patients.csv_list import CSV_SUFFIXES, CsvTree, PathOrPaste
from tui.screens.add_patients.dialog import AddPatientsModal
from tui.screens.add_patients.words import csv_report_text, nothing_to_add, unknown_confirm

__all__ = [
    "COUNT_DELAY",
    "CSV_SUFFIXES",
    "AddPatientsModal",
    "CsvTree",
    "PathOrPaste",
    "csv_report_text",
    "nothing_to_add",
    "unknown_confirm",
]

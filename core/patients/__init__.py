"""The patient directory: import from the EMR's CSV export, search, look-up (SPEC §4, §9).

Import rules (decisions are marked *):
- Columns are matched through `csvio.norm` against the aliases (`columns.py`, English
  and French). Two columns that match one field refuse the file, naming both — except a
  generic `ID` beside a column named as an EMR id (`No dossier`), which is left out.
  Unknown columns are ignored and reported in `ImportResult.ignored_columns`.
- The file is read as it goes, a chunk of rows at a time, checked and written in one
  transaction; one bad row refuses the file (the transaction is rolled back, nothing is
  written) and every problem is listed as `FILE:LINE: column “X”: expected ...,
  got “...”` (kept in an owner-only temporary file past 10,000 of them: memory stays
  bounded however bad the file).
- Dates are YYYY-MM-DD (a time after the date is dropped, `YYYY/MM/DD` is accepted).
  * DD/MM/YYYY is refused: 03/04/1980 is April 3rd in Québec and March 4th in an
  American export, and a silent guess would mislabel ages.
- Booleans: yes/no, oui/non, true/false, vrai/faux, 1/0, y/n, o/n; empty means no.
- * sex is stored as F, M or X (femme/homme/female/male/other/autre... accepted);
  unknown/inconnu and empty are stored as ''. Language is stored as fr/en.
- * Email addresses are stored lower-cased; postal codes upper-cased (`H2X 1Y4`).
- * A column absent from the file keeps its stored values on update (a file without
  `email` never wipes emails); a column present with an empty cell empties the field.
- Upsert by EMR key in one transaction (BEGIN IMMEDIATE on SQLite): SQLite runs one
  `INSERT ... ON CONFLICT (emr_key) DO UPDATE` per row with `executemany`, a chunk at a
  time; PostgreSQL COPYs the chunks to a temporary table, then one UPDATE ... FROM and
  one INSERT ... SELECT. * Rows whose values did not change are not rewritten: `updated`
  counts patients that changed, `unchanged` the others; `updated_at` is the last
  import that changed the patient, `imported_at` the first one.
- * `search_name` is "last first", lower-case, accent-free, punctuation as spaces
  (`o brien marie eve`): its index answers the usual "type the last name" search;
  when that finds fewer than asked, every typed word is looked for anywhere in it, so
  "first last", "last first" and partial words all find the patient.
- A patient with a pending invitation (joined_at empty) who now has an app account is
  marked joined (`Invitation.joined_at = now`), whatever the invitation's expiry.

    columns.py   the aliases each field is known by; a file's header -> fields
    cells.py     one cell's parser per field; name_key (the form of search_name)
    reader.py    DirectoryReader: the file read and checked a chunk at a time
    upsert.py    import_csv: the upsert transaction, joined invitations, the audit row
    lookup.py    get_by_emr, search
    view.py      show: one patient as staff see them, opt-outs and campaigns (audited)

Import what you use from the module it lives in (this package's __init__ imports nothing:
core.optouts reads patients through lookup while upsert applies the opt-out ledger).
"""

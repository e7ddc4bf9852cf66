#!/usr/bin/python3
"""Writes the openpyxl fixtures of input/testdata (Debian's python3-openpyxl).

Run from input/testdata:  /usr/bin/python3 gen/openpyxl_fixtures.py
"""
import datetime

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

FIXED = datetime.datetime(2025, 1, 1)


def book():
    wb = Workbook()
    wb.properties.created = FIXED
    wb.properties.modified = FIXED
    return wb


def formulas():
    # Formulas with no calculated value: openpyxl writes <f>..</f><v></v>
    # and asks the reader to recalculate (fullCalcOnLoad="1").
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to", "records", "move_subordinates_to", "Note"])
    ws.append(["ana@example.com", "=LOWER(E2)", True, None, "BOSS@EXAMPLE.COM"])  # row 2
    ws.append(["=LOWER(E3)", "boss@example.com", None, None, "BO@EXAMPLE.COM"])   # row 3
    ws.append(["cy@example.com", "boss@example.com", "=TRUE()", None, None])       # row 4
    ws.append(["di@example.com", "boss@example.com", False, None, "=1+1"])         # row 5
    wb.save("openpyxl-formulas.xlsx")


def merged():
    # transfer_to merged over B2:B3 (the name shows beside both rows) and
    # records merged over C4:D4... and a merge reaching into the header.
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to", "records", "assignment", "Note"])
    ws.append(["ana@example.com", "boss@example.com", True, True, "team A"])  # row 2
    ws.append(["bo@example.com", None, True, True, None])                     # row 3
    ws.append(["cy@example.com", "carl@example.com", False, None, None])      # row 4
    ws.append(["di@example.com", "carl@example.com", None, None, None])       # row 5
    ws.merge_cells("B2:B3")
    ws.merge_cells("C4:D4")
    ws.merge_cells("E2:E3")
    wb.save("openpyxl-merged.xlsx")


def filtered():
    # A reviewer filtered approved = yes: rows 3 and 5 are hidden by the
    # filter. Column D is hidden by hand (hidden columns are fine).
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to", "approved", "comment"])
    ws.append(["ana@example.com", "boss@example.com", "yes", "ok"])  # row 2
    ws.append(["bo@example.com", "boss@example.com", "no", "stays"])  # row 3, hidden
    ws.append(["cy@example.com", "boss@example.com", "yes", "ok"])  # row 4
    ws.append(["di@example.com", "boss@example.com", "no", "stays"])  # row 5, hidden
    ws.auto_filter.ref = "A1:D5"
    ws.auto_filter.add_filter_column(2, ["yes"])
    ws.row_dimensions[3].hidden = True
    ws.row_dimensions[5].hidden = True
    ws.column_dimensions["D"].hidden = True
    wb.save("openpyxl-filtered.xlsx")


def chartsheet_first():
    # A chart sheet as the first tab, the worksheets after it.
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to", "days"])
    ws.append(["ana@example.com", "boss@example.com", 3])
    ws2 = wb.create_sheet("Retry")
    ws2.append(["user", "transfer_to"])
    cs = wb.create_chartsheet("Chart", 0)
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=2), titles_from_data=True)
    cs.add_chart(chart)
    wb.save("openpyxl-chartsheet-first.xlsx")


def title_rows():
    # A title above the header (merged over A1:C1), a blank row, then the
    # header on row 3; and a second sheet.
    wb = book()
    ws = wb.active
    ws.title = "December"
    ws.append(["Leavers, December"])
    ws.append([])
    ws.append(["user", "transfer_to", "Note"])
    ws.append(["ana@example.com", "boss@example.com", None])
    ws.merge_cells("A1:C1")
    wb.create_sheet("Notes").append(["read me"])
    wb.save("openpyxl-title-rows.xlsx")


def array_formula():
    # An array formula over B2:B4 (transfer_to) and C2:C4 (records):
    # openpyxl writes the formula in the top-left cell only, and no cell
    # at all for B3:B4 and C3:C4, which a spreadsheet fills with the
    # result.
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to", "records", "Note", "approved"])
    ws.append(["ana@example.com", None, None, "BOSS@EXAMPLE.COM", "yes"])  # row 2
    ws.append(["bo@example.com", None, None, "CARL@EXAMPLE.COM", "yes"])   # row 3
    ws.append(["cy@example.com", None, None, "DORA@EXAMPLE.COM", "yes"])   # row 4
    ws["B2"] = "=LOWER(D2:D4)"
    ws.formula_attributes["B2"] = {"t": "array", "ref": "B2:B4"}
    ws["C2"] = '=E2:E4="yes"'
    ws.formula_attributes["C2"] = {"t": "array", "ref": "C2:C4"}
    wb.save("openpyxl-array-formula.xlsx")


def array_formula_rows():
    # An array formula over A2:B4 (user and transfer_to) that fills rows 3
    # and 4 alone: openpyxl writes no row 3 or 4 at all, and a spreadsheet
    # shows them filled with the values of the Staff sheet.
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to", "ticket"])
    ws["A2"] = "=Staff!A1:B3"
    ws.formula_attributes["A2"] = {"t": "array", "ref": "A2:B4"}
    ws["A5"], ws["B5"], ws["C5"] = "zoe@example.com", "boss@example.com", "T5"
    staff = wb.create_sheet("Staff")
    for row in [["ana@example.com", "boss@example.com"], ["bo@example.com", "boss@example.com"], ["cy@example.com", "boss@example.com"]]:
        staff.append(row)
    wb.save("openpyxl-array-rows.xlsx")


formulas()
array_formula()
array_formula_rows()
merged()
filtered()
chartsheet_first()
title_rows()


def array_formula_blanks():
    # An array formula over transfer_to, B2:B41, whose result is "" beside
    # the rows with no user: LibreOffice saves each of those cells with an
    # empty value, which is what a person sees there, blank.
    wb = book()
    ws = wb.active
    ws.title = "Leavers"
    ws.append(["user", "transfer_to"])
    for u in ["ana@example.com", "bo@example.com", "cy@example.com"]:
        ws.append([u])
    ws["B2"] = '=IF(A2:A41="","","boss@example.com")'
    ws.formula_attributes["B2"] = {"t": "array", "ref": "B2:B41"}
    wb.save("openpyxl-array-blanks.xlsx")


array_formula_blanks()

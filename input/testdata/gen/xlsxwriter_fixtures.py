#!/usr/bin/python3
"""Writes the XlsxWriter fixtures of input/testdata (Debian's python3-xlsxwriter).

Run from input/testdata:  /usr/bin/python3 gen/xlsxwriter_fixtures.py
"""
import datetime

import xlsxwriter

FIXED = datetime.datetime(2025, 1, 1)

# XlsxWriter writes a formula's result as the placeholder 0 (<v>0</v>) and
# sets fullCalcOnLoad="1": TRUE() reads as FALSE unless recalculated.
wb = xlsxwriter.Workbook("xlsxwriter-formulas.xlsx")
wb.set_properties({"created": FIXED})
ws = wb.add_worksheet("Leavers")
ws.write_row(0, 0, ["user", "transfer_to", "records", "Note"])
ws.write_row(1, 0, ["ana@example.com", "boss@example.com"])
ws.write_formula(1, 2, "=TRUE()")                                 # C2: shows TRUE, stored 0
ws.write_row(2, 0, ["bo@example.com"])
ws.write_formula(2, 1, '=LOWER("BOSS@EXAMPLE.COM")')              # B3: shows boss@..., stored 0
ws.write_row(3, 0, ["cy@example.com", "boss@example.com", False])
ws.write_formula(3, 3, "=1+1")                                    # D4: unknown column, fine
wb.close()

# Rows hidden by a filter, as XlsxWriter writes them (hidden="1").
wb = xlsxwriter.Workbook("xlsxwriter-filtered.xlsx")
wb.set_properties({"created": FIXED})
ws = wb.add_worksheet("Leavers")
rows = [
    ["user", "transfer_to", "approved"],
    ["ana@example.com", "boss@example.com", "yes"],
    ["bo@example.com", "boss@example.com", "no"],
    ["cy@example.com", "boss@example.com", "yes"],
    ["di@example.com", "boss@example.com", "no"],
]
for i, r in enumerate(rows):
    if i > 0 and r[2] != "yes":
        ws.set_row(i, options={"hidden": True})
    ws.write_row(i, 0, r)
ws.autofilter(0, 0, len(rows) - 1, 2)
ws.filter_column(2, "x == yes")
wb.close()

# Array formulas over B2:B4 and C2:C4: XlsxWriter writes the formula in the
# top-left cell and the placeholder 0 in every other cell of the range, which
# a spreadsheet fills with the result.
wb = xlsxwriter.Workbook("xlsxwriter-array-formula.xlsx")
wb.set_properties({"created": FIXED})
ws = wb.add_worksheet("Leavers")
ws.write_row(0, 0, ["user", "transfer_to", "records", "Note", "approved"])
ws.write_row(1, 0, ["ana@example.com", None, None, "BOSS@EXAMPLE.COM", "yes"])
ws.write_row(2, 0, ["bo@example.com", None, None, "CARL@EXAMPLE.COM", "yes"])
ws.write_row(3, 0, ["cy@example.com", None, None, "DORA@EXAMPLE.COM", "yes"])
ws.write_array_formula("B2:B4", "{=LOWER(D2:D4)}")
ws.write_array_formula("C2:C4", '{=E2:E4="yes"}')
wb.close()

#!/bin/sh
# Remakes the LibreOffice fixtures of offboard run --plan's tests: a plan of
# the sample sheet against the built-in sandbox, approved (rows 3 and 4)
# with openpyxl, then saved again by LibreOffice; and the same with cell A3
# edited as well. Needs go, /usr/bin/python3 with openpyxl, and soffice.
# Run from anywhere; the tests themselves need none of these.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go run . plan --sandbox --input samples/offboarding.csv --as-of 2026-11-28 --output "$tmp/plan.xlsx" >/dev/null 2>&1) || true
/usr/bin/python3 - "$tmp" <<'PY'
import sys, openpyxl
tmp = sys.argv[1]
for name, edit in (("approved", False), ("edited", True)):
    wb = openpyxl.load_workbook(tmp + "/plan.xlsx")
    ws = wb["Results"]
    head = [c.value for c in ws[1]]
    row, approved = head.index("Row") + 1, head.index("Approved") + 1
    for r in range(2, ws.max_row + 1):
        if str(ws.cell(r, row).value) in ("3", "4"):
            ws.cell(r, approved).value = "Yes"
    if edit:
        ws["A3"].value = ws["A3"].value + " "
    wb.properties.lastModifiedBy = "Rita Reviewer"
    wb.save(tmp + "/" + name + ".xlsx")
PY
mkdir "$tmp/lo"
soffice --headless --convert-to xlsx --outdir "$tmp/lo" "$tmp/approved.xlsx" "$tmp/edited.xlsx" >/dev/null
cp "$tmp/lo/approved.xlsx" "$here/approved-libreoffice.xlsx"
cp "$tmp/lo/edited.xlsx" "$here/edited-libreoffice.xlsx"

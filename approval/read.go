package approval

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"offboard/report"
	"offboard/result"
)

// Plan is an approved plan workbook read back and verified.
type Plan struct {
	Seal *Seal
	// Digest is the seal's digest.
	Digest string
	// Approved holds the lines of the planned steps the reviewer marked
	// yes.
	Approved map[int]bool
	// Ignored are the lines of rows marked yes that the plan did not plan
	// (invalid, skipped or deferred): they do not run.
	Ignored []int
	// ApprovedBy is who saved the workbook last, as its document
	// properties say; "" when they do not say.
	ApprovedBy string
}

// EditedError is a plan workbook that is no longer what offboard plan
// wrote: a cell other than Approved was changed, or the seal.
type EditedError struct {
	Path        string
	Differences []string
}

// maxNamed is how many differences an EditedError lists.
const maxNamed = 200

func (e *EditedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not the plan offboard plan wrote: only its Approved column may be edited, and %d other change(s) were found, so nothing was sent; make a new plan with offboard plan and approve that:", e.Path, len(e.Differences))
	for i, d := range e.Differences {
		if i == maxNamed {
			fmt.Fprintf(&b, "\n  - and %d more", len(e.Differences)-maxNamed)
			break
		}
		b.WriteString("\n  - ")
		b.WriteString(d)
	}
	return b.String()
}

// Read opens a plan workbook, checks its seal and that no cell but
// Approved changed since offboard plan wrote it, and returns the plan with
// the rows approved.
func Read(path string) (*Plan, error) {
	if !strings.EqualFold(filepathExt(path), ".xlsx") {
		return nil, fmt.Errorf("--plan %s: want the .xlsx plan workbook that offboard plan wrote", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--plan: %w", err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("--plan %s: not a workbook offboard can read: %w", path, err)
	}
	defer f.Close()
	if i, _ := f.GetSheetIndex(report.SheetPlan); i < 0 {
		return nil, fmt.Errorf("--plan %s has no sealed plan (its hidden %s sheet): only a workbook that offboard plan wrote, as .xlsx, can be approved and run", path, report.SheetPlan)
	}
	seal, digest, err := readSeal(f)
	if err != nil {
		return nil, &EditedError{Path: path, Differences: []string{err.Error()}}
	}
	p := &Plan{Seal: seal, Digest: digest, Approved: map[int]bool{}}
	var diffs []string
	if err := p.readResults(f, &diffs); err != nil {
		return nil, err
	}
	if len(diffs) > 0 {
		return nil, &EditedError{Path: path, Differences: diffs}
	}
	if props, err := f.GetDocProps(); err == nil {
		p.ApprovedBy = strings.TrimSpace(props.LastModifiedBy)
	}
	return p, nil
}

func filepathExt(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 && !strings.ContainsAny(p[i:], `/\`) {
		return p[i:]
	}
	return ""
}

// readSeal reads the Plan sheet and checks its digest.
func readSeal(f *excelize.File) (*Seal, string, error) {
	rows, err := f.GetRows(report.SheetPlan, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, "", fmt.Errorf("the hidden %s sheet cannot be read: %v", report.SheetPlan, err)
	}
	if len(rows) < 2 || len(rows[0]) < 3 || rows[0][0] != report.PlanMarker {
		return nil, "", fmt.Errorf("the hidden %s sheet is not offboard's sealed plan", report.SheetPlan)
	}
	if rows[0][1] != strconv.Itoa(Version) {
		return nil, "", fmt.Errorf("the sealed plan is version %q; this offboard reads version %d", rows[0][1], Version)
	}
	var text strings.Builder
	for _, r := range rows[1:] {
		if len(r) > 0 {
			text.WriteString(r[0])
		}
	}
	digest := Digest(text.String())
	if want := strings.TrimSpace(rows[0][2]); digest != want {
		return nil, "", fmt.Errorf("the sealed plan (the hidden %s sheet) was changed: its digest is %s, not the %s it was sealed with", report.SheetPlan, digest, want)
	}
	s, err := decode(text.String())
	if err != nil {
		return nil, "", fmt.Errorf("the sealed plan cannot be read: %v", err)
	}
	return s, digest, nil
}

// readResults compares the Results sheet with the seal, cell by cell, and
// reads the Approved column. Rows are matched by their Row cell, so a
// reviewer may sort or filter the sheet.
func (p *Plan) readResults(f *excelize.File, diffs *[]string) error {
	rows, err := f.GetRows(report.SheetResults)
	if err != nil {
		*diffs = append(*diffs, fmt.Sprintf("the %s sheet cannot be read: %v", report.SheetResults, err))
		return nil
	}
	s := p.Seal
	header := append(append(append([]string{}, s.Header...), report.Columns()...), report.ColumnApproved)
	var got []string
	if len(rows) > 0 {
		got = rows[0]
	}
	for i := range max(len(header), len(got)) {
		h, g := cellAt(header, i), cellAt(got, i)
		if report.CellValue(h) != report.CellValue(g) {
			*diffs = append(*diffs, fmt.Sprintf("%s: the header is %q, was %q (columns were added, removed or renamed)", cellName(i, 1), g, h))
		}
	}
	if len(*diffs) > 0 {
		return nil // the columns do not line up: comparing the rows says nothing more
	}
	approvedCol := len(header) - 1
	rowCol := len(s.Header) // Row, the first of ours
	// A cell can show other text than it holds: through conditional
	// formatting, or a number format with text of its own (;;;"...").
	// offboard writes neither; what the reviewer saw must be what is
	// compared.
	if cf, err := f.GetConditionalFormats(report.SheetResults); err == nil && len(cf) > 0 {
		ranges := make([]string, 0, len(cf))
		for r := range cf {
			ranges = append(ranges, r)
		}
		slices.Sort(ranges)
		*diffs = append(*diffs, fmt.Sprintf("the %s sheet has conditional formatting (%s), which can make a cell show other text than it holds: remove it", report.SheetResults, strings.Join(ranges, ", ")))
	}
	masks := map[int]bool{} // style ID: its number format shows text of its own
	for r := 1; r < len(rows); r++ {
		for c := range min(len(rows[r]), approvedCol) {
			cell := cellName(c, r+1)
			coord, _ := excelize.CoordinatesToCellName(c+1, r+1)
			id, err := f.GetCellStyle(report.SheetResults, coord)
			if err != nil || id == 0 {
				continue
			}
			masked, known := masks[id]
			if !known {
				st, err := f.GetStyle(id)
				masked = err == nil && st.CustomNumFmt != nil && strings.ContainsAny(*st.CustomNumFmt, "\"\\;")
				masks[id] = masked
			}
			if masked {
				*diffs = append(*diffs, fmt.Sprintf("%s: its number format shows text of its own, not the cell's value: clear the format", cell))
			}
		}
	}
	byLine := make(map[int]int, len(s.Steps))
	for i, st := range s.Steps {
		byLine[st.Line] = i
	}
	seen := make(map[int]bool, len(s.Steps))
	for r := 1; r < len(rows); r++ {
		cells := rows[r]
		if blank(cells) {
			continue
		}
		sheetRow := r + 1
		line, err := strconv.Atoi(strings.TrimSpace(cellAt(cells, rowCol)))
		i, ok := byLine[line]
		switch {
		case err != nil || !ok:
			*diffs = append(*diffs, fmt.Sprintf("%s: Row is %q, which names no row of the plan (a row was added, or its Row cell edited)", cellName(rowCol, sheetRow), cellAt(cells, rowCol)))
			continue
		case seen[line]:
			*diffs = append(*diffs, fmt.Sprintf("sheet row %d: row %d of the input appears twice", sheetRow, line))
			continue
		}
		seen[line] = true
		st := &s.Steps[i]
		for c := range max(len(st.Results), min(len(cells), approvedCol)) {
			if c == approvedCol {
				continue
			}
			want, have := cellAt(st.Results, c), cellAt(cells, c)
			if report.CellValue(want) != report.CellValue(have) {
				*diffs = append(*diffs, fmt.Sprintf("%s (%s, row %d of the input): %s, was %s", cellName(c, sheetRow), header[c], line, shown(have), shown(want)))
			}
		}
		for c := approvedCol + 1; c < len(cells); c++ {
			if cells[c] != "" {
				*diffs = append(*diffs, fmt.Sprintf("%s: %s, right of the Approved column, was blank", cellName(c, sheetRow), shown(cells[c])))
			}
		}
		yes, valid := parseApproved(cellAt(cells, approvedCol))
		switch {
		case !valid:
			*diffs = append(*diffs, fmt.Sprintf("%s (Approved, row %d of the input): %q is neither yes nor no", cellName(approvedCol, sheetRow), line, cellAt(cells, approvedCol)))
		case yes && st.Outcome == result.Planned && !visible(f, sheetRow):
			// Approved where the reviewer does not see it (hidden by
			// hand, filtered out, folded away): the approval may not be
			// theirs.
			*diffs = append(*diffs, fmt.Sprintf("sheet row %d (row %d of the input) is approved but hidden in the %s sheet: show it, or clear its Approved", sheetRow, line, report.SheetResults))
		case yes && st.Outcome == result.Planned:
			p.Approved[line] = true
		case yes:
			p.Ignored = append(p.Ignored, line)
		}
	}
	for _, st := range s.Steps {
		if !seen[st.Line] {
			*diffs = append(*diffs, fmt.Sprintf("row %d of the input is missing from the %s sheet (its row was deleted)", st.Line, report.SheetResults))
		}
	}
	return nil
}

// visible reports whether the Results sheet shows row (1-based): not
// hidden by hand, by a filter or by a folded outline, nor of height zero.
func visible(f *excelize.File, row int) bool {
	if v, err := f.GetRowVisible(report.SheetResults, row); err == nil && !v {
		return false
	}
	if h, err := f.GetRowHeight(report.SheetResults, row); err == nil && h == 0 {
		return false
	}
	return true
}

// parseApproved reads an Approved cell: yes, y, true or 1, no, n, false
// or 0 in any case, or blank (no).
func parseApproved(v string) (yes, valid bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true", "1":
		return true, true
	case "", "no", "n", "false", "0":
		return false, true
	}
	return false, false
}

func cellAt(c []string, i int) string {
	if i < len(c) {
		return c[i]
	}
	return ""
}

func blank(c []string) bool {
	for _, v := range c {
		if v != "" {
			return false
		}
	}
	return true
}

func cellName(col, row int) string {
	n, err := excelize.CoordinatesToCellName(col+1, row)
	if err != nil {
		return fmt.Sprintf("R%dC%d", row, col+1)
	}
	return report.SheetResults + "!" + n
}

// shown quotes a cell for a message, cut short.
func shown(v string) string {
	if v == "" {
		return "blank"
	}
	if r := []rune(v); len(r) > 80 {
		v = string(r[:80]) + "…"
	}
	return strconv.Quote(v)
}

// IsEdited reports whether err is an EditedError.
func IsEdited(err error) bool {
	var e *EditedError
	return errors.As(err, &e)
}

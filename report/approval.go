package report

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"offboard/result"
)

// SheetPlan is the very hidden sheet of a plan workbook written for
// approval: the sealed plan, as lines of ASCII text in column A from row
// 2, and in row 1 a marker, the seal's version and its digest.
const SheetPlan = "Plan"

// ColumnApproved is the column a plan workbook written for approval adds
// after the Results sheet's own: the reviewer's yes or no, blank at first.
const ColumnApproved = "Approved"

// PlanMarker is cell A1 of the Plan sheet.
const PlanMarker = "offboard plan"

// Seal is what makes a plan workbook one that can be approved: an
// Approved column with a yes/no drop-down on the Results sheet, and the
// very hidden Plan sheet holding Lines, whose digest the Summary shows.
type Seal struct {
	// Version is the seal's format, Digest its hex digest.
	Version int
	Digest  string
	// Lines are the sealed plan, each at most MaxCellChars characters.
	Lines []string
	// Created is when the plan was made, for the Summary.
	Created string
}

// MaxCellChars is the most characters a cell holds (Excel's limit).
const MaxCellChars = 32767

// ResultsCells returns the cells of the Results sheet's row for r as a
// spreadsheet reads them back, in order: the input's (header wide), then
// offboard's. (Approved, if any, is not among them.)
func ResultsCells(header []string, r result.Row) []string {
	out := make([]string, len(header)+numColumns)
	copy(out, r.Cells)
	var ours [numColumns]string
	ourCells(&r, &ours)
	copy(out[len(header):], ours[:])
	return out
}

// CellValue is a cell's text as a workbook keeps it, and as any two
// spreadsheets that save it agree on: the control characters a workbook
// cannot hold become U+FFFD, a carriage return and line feed (or a lone
// carriage return) a line feed, and the text is cut at MaxCellChars
// characters. Compare cells written and read back through it.
func CellValue(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 && r != '\t' && r != '\n' || r == '\r' || r == utf8.RuneError || r == 0xFFFE || r == 0xFFFF
	}) && utf8.RuneCountInString(s) <= MaxCellChars {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == MaxCellChars {
			break
		}
		if r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// approvedColumn is the Results sheet's column of Approved, 1-based.
func (s *xlsxSink) approvedColumn() int { return len(s.header) + numColumns + 1 }

// approvalHeader is the Approved column's header cell, when sealed.
func (s *xlsxSink) approvalHeader(row []any) []any {
	if s.seal == nil {
		return row
	}
	return append(row, &excelize.Cell{StyleID: s.style.header, Value: ColumnApproved})
}

// finishApproval adds the Approved drop-down (before the Results sheet is
// flushed) to the rows written.
func (s *xlsxSink) finishApproval() error {
	if s.seal == nil || s.resultRows < 2 {
		return nil
	}
	col, err := excelize.ColumnNumberToName(s.approvedColumn())
	if err != nil {
		return err
	}
	dv := excelize.NewDataValidation(true)
	dv.Sqref = col + "2:" + col + strconv.Itoa(s.resultRows)
	if err := dv.SetDropList([]string{"yes", "no"}); err != nil {
		return err
	}
	dv.SetError(excelize.DataValidationErrorStyleStop, "Approved", "Type yes or no, or leave the cell blank.")
	dv.SetInput("Approved", "yes runs this row with offboard run --plan; no or blank does not.")
	return s.f.AddDataValidation(SheetResults, dv)
}

// writeSeal writes the Plan sheet and hides it (very hidden: Excel's
// Unhide does not list it).
func (s *xlsxSink) writeSeal() error {
	if s.seal == nil {
		return nil
	}
	sw, err := s.f.NewStreamWriter(SheetPlan)
	if err != nil {
		return err
	}
	if err := sw.SetRow("A1", []any{PlanMarker, strconv.Itoa(s.seal.Version), s.seal.Digest}); err != nil {
		return err
	}
	for i, l := range s.seal.Lines {
		if err := sw.SetRow("A"+strconv.Itoa(i+2), []any{l}); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return s.f.SetSheetVisible(SheetPlan, false, true)
}

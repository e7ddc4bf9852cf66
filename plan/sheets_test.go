package plan_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/directory"
	"offboard/input"
	"offboard/plan"
	"offboard/result"
)

func hidden(r input.Row) input.Row {
	r.Hidden = true
	return r
}

// TestHiddenRows: a row the sheet hides is skipped, whatever it holds, and
// is no earlier row for DUPLICATE_ROW.
func TestHiddenRows(t *testing.T) {
	rows := []input.Row{
		hidden(row(2, "rep@x.example", "a@x.example", "")),
		row(3, "rep@x.example", "b@x.example", ""),
		hidden(row(4, "", "", "")),
		hidden(row(5, "who@x.example", "not an address", "")),
	}
	p := plan.Build(rows, testDirectory(""), today())
	want := []verdict{
		{2, result.Skipped, plan.CodeHiddenRow},
		{3, result.Planned, ""},
		{4, result.Skipped, plan.CodeHiddenRow},
		{5, result.Skipped, plan.CodeHiddenRow},
	}
	if diff := cmp.Diff(want, verdicts(p)); diff != "" {
		t.Errorf("Build() verdicts mismatch (-want +got):\n%s", diff)
	}
	const msg = "the row is hidden in the sheet (filtered out, or hidden by hand), so it is not planned: show it and run again, or pass --include-hidden to plan hidden rows"
	if got := p.Steps[0].Message; got != msg {
		t.Errorf("hidden row message = %q, want %q", got, msg)
	}
	if p.Steps[0].User == nil || p.Steps[0].User.Email != "rep@x.example" {
		t.Errorf("hidden row User = %+v, want rep@x.example: the results show whom it named", p.Steps[0].User)
	}
	if got := p.Counts()[result.Skipped]; got != 3 {
		t.Errorf("Counts()[skipped] = %d, want 3", got)
	}
	if diff := cmp.Diff([]int{3}, lines(p, p.Order)); diff != "" {
		t.Errorf("Order mismatch (-want +got):\n%s", diff)
	}
}

// TestNotes: how the reader read a cell is said in the row's message,
// whatever its outcome.
func TestNotes(t *testing.T) {
	const note = `transfer_to (B3) is part of the merged cells B2:B3 and was read as "a@x.example", the value shown there`
	noted := func(r input.Row) input.Row {
		r.Notes = []string{note}
		return r
	}
	p := plan.Build([]input.Row{
		noted(row(3, "rep@x.example", "a@x.example", "")),
		noted(row(4, "who@x.example", "a@x.example", "")),
	}, testDirectory(""), today())
	want := []string{
		"delete Rep <rep@x.example>, transferring records, assignment and criteria to A <a@x.example> (" + note + ")",
		`user "who@x.example"`,
	}
	if got := p.Steps[0].Message; got != want[0] {
		t.Errorf("planned message = %q, want %q", got, want[0])
	}
	if got := p.Steps[1].Message; !strings.HasPrefix(got, want[1]) || !strings.HasSuffix(got, " ("+note+")") {
		t.Errorf("invalid message = %q, want it to start %q and end with the note", got, want[1])
	}
}

// fixtureDirectory is an org holding the users the input fixtures name.
func fixtureDirectory() directory.Directory {
	d := testDirectory("")
	for i, e := range []string{"ana", "bo", "cy", "di", "boss", "carl", "mgr", "old"} {
		d.Users = append(d.Users, active(strconv.Itoa(3001+i), e+"@example.com", roleRep, "1003"))
	}
	return d
}

// TestSheetsAsSeen reads the sheets of issue #17, saved by the programs
// people use, and plans them: each row's outcome, code and message are
// what a reviewer who looked at the sheet would expect.
func TestSheetsAsSeen(t *testing.T) {
	type step struct {
		Line    int
		Outcome result.Outcome
		Code    string
		Message string // a part of the message
	}
	const formula = ": the cell holds a formula with no calculated value"
	tests := []struct {
		file string
		opt  input.Options
		want []step
	}{
		{"openpyxl-formulas.xlsx", input.Options{}, []step{
			{2, result.Invalid, plan.CodeBadValue, "transfer_to (B2)" + formula + ", =LOWER(E2): open the file in Excel or LibreOffice and save it"},
			{3, result.Invalid, plan.CodeBadValue, "user (A3)" + formula},
			{4, result.Invalid, plan.CodeBadValue, "records (C4)" + formula + ", =TRUE()"},
			{5, result.Planned, "", "delete Di <di@example.com>, transferring assignment and criteria to Boss <boss@example.com>"},
		}},
		{"xlsxwriter-formulas.xlsx", input.Options{}, []step{
			{2, result.Invalid, plan.CodeBadValue, "records (C2)" + formula + ", =TRUE()"},
			{3, result.Invalid, plan.CodeBadValue, "transfer_to (B3)" + formula},
			{4, result.Planned, "", "delete Cy <cy@example.com>, transferring assignment and criteria to Boss"},
		}},
		{"libreoffice-recalculated.xlsx", input.Options{}, []step{
			{2, result.Planned, "", "delete Ana <ana@example.com>, transferring records, assignment and criteria to Boss"},
			{3, result.Planned, "", "delete Bo <bo@example.com>, transferring records, assignment and criteria to Boss"},
			{4, result.Planned, "", "delete Cy <cy@example.com>, transferring assignment and criteria to Boss"},
		}},
		{"openpyxl-merged.xlsx", input.Options{}, []step{
			{2, result.Planned, "", "delete Ana <ana@example.com>, transferring records, assignment and criteria to Boss"},
			{3, result.Planned, "", `delete Bo <bo@example.com>, transferring records, assignment and criteria to Boss <boss@example.com> (transfer_to (B3) is part of the merged cells B2:B3 and was read as "boss@example.com", the value shown there)`},
			{4, result.Invalid, plan.CodeBadValue, `assignment (D4) is covered by the merged cells C4:D4, which show "FALSE" across more than one column`},
			{5, result.Planned, "", "delete Di <di@example.com>, transferring records, assignment and criteria to Carl"},
		}},
		{"libreoffice-merged.xlsx", input.Options{}, []step{
			{2, result.Planned, "", "delete Ana <ana@example.com>, transferring records, assignment and criteria to Boss"},
			{3, result.Invalid, plan.CodeBadValue, `transfer_to (B3) holds "old@example.com" hidden under the merged cells B2:B4, which show "boss@example.com"`},
			{4, result.Planned, "", `to Boss <boss@example.com> (transfer_to (B4) is part of the merged cells B2:B4`},
			{5, result.Invalid, plan.CodeBadValue, `move_subordinates_to (C5) is covered by the merged cells B5:C5`},
		}},
		{"openpyxl-filtered.xlsx", input.Options{}, []step{
			{2, result.Planned, "", "delete Ana"},
			{3, result.Skipped, plan.CodeHiddenRow, "the row is hidden in the sheet"},
			{4, result.Planned, "", "delete Cy"},
			{5, result.Skipped, plan.CodeHiddenRow, "the row is hidden in the sheet"},
		}},
		{"libreoffice-filtered.xlsx", input.Options{IncludeHidden: true}, []step{
			{2, result.Planned, "", "delete Ana"},
			{3, result.Planned, "", "delete Bo"},
			{4, result.Planned, "", "delete Cy"},
			{5, result.Planned, "", "delete Di"},
		}},
		{"excel-mac-cr.csv", input.Options{}, []step{
			{2, result.Planned, "", "delete Ana"},
			{3, result.Planned, "", "delete Bo"},
			{5, result.Planned, "", "delete Cy"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, rows, err := input.ReadAll(filepath.Join("..", "input", "testdata", tt.file), tt.opt)
			if err != nil {
				t.Fatalf("ReadAll(%s): %v", tt.file, err)
			}
			p := plan.Build(rows, fixtureDirectory(), today())
			var got []step
			for i, st := range p.Steps {
				s := step{st.Line, st.Outcome, st.Code, st.Message}
				if i < len(tt.want) && strings.Contains(st.Message, tt.want[i].Message) {
					s.Message = tt.want[i].Message
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan of %s mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

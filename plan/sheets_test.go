package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/input"
	"offboard/plan"
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
		{2, plan.Skipped, plan.CodeHiddenRow},
		{3, plan.Planned, ""},
		{4, plan.Skipped, plan.CodeHiddenRow},
		{5, plan.Skipped, plan.CodeHiddenRow},
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
	if got := p.Counts()[plan.Skipped]; got != 3 {
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

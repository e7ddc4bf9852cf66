package offboarding

import (
	"fmt"
	"io"
	"path/filepath"

	"offboard/result"
	"offboard/termtext"
)

// maxListed bounds the rows each list on the terminal names; the workbook
// has them all.
const maxListed = 20

// whereLong names the org for a person about to change it: its name, its
// ID and the API domain it is reached through.
func (p *prepared) whereLong() string {
	name := p.orgName()
	if p.conn.sandbox != nil {
		return name + " (the built-in sandbox)"
	}
	return fmt.Sprintf("%s (org %s, %s)", name, p.orgID(), p.apiDomain)
}

// rowLine is one row as the lists show it: its number, its code if any,
// and what it says.
type rowLine struct {
	line    int
	code    string
	message string
}

// printRows prints a titled list of rows, the first maxListed of them,
// then how many more the workbook holds. Nothing for an empty list.
func printRows(w io.Writer, title string, rows []rowLine, where string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d):\n", title, len(rows))
	for i, r := range rows {
		if i == maxListed {
			fmt.Fprintf(w, "  ... and %d more: see %s\n", len(rows)-maxListed, where)
			break
		}
		code := ""
		if r.code != "" {
			code = r.code + ": "
		}
		fmt.Fprintf(w, "  row %d: %s%s\n", r.line, code, termtext.Line(r.message))
	}
}

// stepLines returns the plan's rows of outcome o.
func (p *prepared) stepLines(o result.Outcome) []rowLine {
	var out []rowLine
	for _, st := range p.plan.Steps {
		if st.Outcome == o {
			out = append(out, rowLine{st.Line, st.Code, st.Message})
		}
	}
	return out
}

// printOverview shows what the plan will do, before anything is sent:
// the org, the counts, who is deleted and who receives what, and the rows
// that will not be sent, each with its reason.
func printOverview(w io.Writer, p *prepared, where string) {
	counts := p.plan.Counts()
	sheetName := ""
	if p.sheet.Name != "" {
		sheetName = fmt.Sprintf(" (sheet %q)", p.sheet.Name)
	}
	fmt.Fprintf(w, "Plan for %s%s: %d rows checked against %s, %d users.\n\n",
		filepath.Base(p.sheet.path), sheetName, len(p.sheet.Rows), p.whereLong(), len(p.dir.Users))
	for _, o := range []result.Outcome{result.Planned, result.Invalid, result.Skipped, result.Deferred} {
		fmt.Fprintf(w, "  %-9s %5d\n", o, counts[o])
	}
	printRows(w, "To delete", p.stepLines(result.Planned), where)
	printRows(w, "Invalid, not sent: fix these", p.stepLines(result.Invalid), where)
	printRows(w, "Deferred, not sent yet", p.stepLines(result.Deferred), where)
	printRows(w, "Skipped", p.stepLines(result.Skipped), where)
	var chained int
	for _, st := range p.plan.Steps {
		if st.Outcome == result.Planned && len(st.After) > 0 {
			chained++
		}
	}
	if chained > 0 {
		fmt.Fprintf(w, "\n%d planned rows wait for the job of another row that transfers to them.\n", chained)
	}
	printHidden(w, p.sheet)
}

// attention returns the rows of a run that need a person: failed,
// invalid, submitted (not seen to end) and not run, in row order.
func attention(rows []result.Row) []rowLine {
	var out []rowLine
	for _, r := range rows {
		switch r.Outcome {
		case result.Failed, result.Invalid, result.Submitted, result.NotRun:
			code := r.Code
			if code == "" {
				code = string(r.Outcome)
			} else {
				code = string(r.Outcome) + " " + code
			}
			out = append(out, rowLine{r.Line, code, r.Message})
		}
	}
	return out
}

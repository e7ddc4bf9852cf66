package offboarding

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestPrintRowsBounded: a list names its first 20 rows, then says how many
// more there are and where to see them; a name's escape sequences are
// shown, not obeyed.
func TestPrintRowsBounded(t *testing.T) {
	var rows []rowLine
	for i := range 25 {
		rows = append(rows, rowLine{line: i + 2, code: "USER_NOT_FOUND", message: fmt.Sprintf("user %d\x1b[2J", i)})
	}
	var b bytes.Buffer
	printRows(&b, "Invalid", rows, "results.xlsx")
	out := b.String()
	if !strings.Contains(out, "Invalid (25):") || !strings.Contains(out, "row 21: USER_NOT_FOUND: user 19") {
		t.Errorf("list:\n%s", out)
	}
	if strings.Contains(out, "row 22:") || !strings.Contains(out, "... and 5 more: see results.xlsx") {
		t.Errorf("the list is not cut after 20 rows:\n%s", out)
	}
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("an escape sequence reached the terminal:\n%q", out)
	}
	b.Reset()
	printRows(&b, "Invalid", nil, "results.xlsx")
	if b.Len() != 0 {
		t.Errorf("an empty list printed %q", b.String())
	}
}

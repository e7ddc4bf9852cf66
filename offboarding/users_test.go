package offboarding

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/zoho"
)

// TestUsersCSV: the users listing is a sheet to start from, and a name a
// spreadsheet would run as a formula is written as text.
func TestUsersCSV(t *testing.T) {
	org := zoho.Org{PrimaryZUID: "77"}
	users := []zoho.User{
		{ID: "5210498000000411001", Email: "boss@example.com", FullName: "Margaret Holloway", Status: "active", Confirm: true, ZUID: "77",
			Role: &zoho.Ref{Name: "CEO"}, Profile: &zoho.Ref{Name: "Administrator"}},
		{ID: "5210498000000412001", Email: "x@example.com", FirstName: "=HYPERLINK(\"http://evil\")", LastName: "+1", Status: "inactive",
			ReportingTo: &zoho.Ref{Name: "@boss"}},
	}
	var b strings.Builder
	if err := writeUsersCSV(&b, org, users, false); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, b.String())
	}
	want := [][]string{
		userColumns,
		{"5210498000000411001", "boss@example.com", "Margaret Holloway", "active", "true", "CEO", "Administrator", "", "super admin"},
		{"5210498000000412001", "x@example.com", `'=HYPERLINK("http://evil") +1`, "inactive", "false", "", "", "'@boss", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users CSV (-want +got):\n%s", diff)
	}
}

// TestUsersCSVOnATerminal: a CSV is data, written as Zoho holds it when it
// goes to a file; shown on a terminal, a name's escape sequences are
// escaped, as everywhere else offboard prints.
func TestUsersCSVOnATerminal(t *testing.T) {
	users := []zoho.User{{ID: "5210498000000412001", Email: "eve@example.com", FullName: "Eve\x1b]8;;http://evil\x07link\u202e"}}
	for _, terminal := range []bool{false, true} {
		var b strings.Builder
		if err := writeUsersCSV(&b, zoho.Org{}, users, terminal); err != nil {
			t.Fatal(err)
		}
		raw := strings.ContainsAny(b.String(), "\x1b\x07\u202e")
		if raw == terminal {
			t.Errorf("terminal %v: control characters raw = %v:\n%q", terminal, raw, b.String())
		}
	}
}

package offboarding

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"offboard/directory"
	"offboard/input"
	"offboard/journal"
	"offboard/plan"
	"offboard/zoho"
)

func TestConfirm(t *testing.T) {
	p := &prepared{conn: &connection{}, plan: &plan.Plan{}, sheet: &sheet{path: "leavers.csv", Sheet: &input.Sheet{}}}
	tests := []struct {
		typed string
		want  bool
	}{
		{"7\n", true},
		{" 7 \r\n", true},
		{"7", true},
		{"yes\n", false},
		{"y\n", false},
		{"70\n", false},
		{"", false},
	}
	for _, tt := range tests {
		var out strings.Builder
		got, err := confirm(t.Context(), IO{Out: &out, In: strings.NewReader(tt.typed)}, p, 7)
		if err != nil || got != tt.want {
			t.Errorf("confirm(typed %q) = %v, %v; want %v", tt.typed, got, err, tt.want)
		}
		if !strings.Contains(out.String(), "About to delete 7 users") || !strings.Contains(out.String(), "Type 7 to go ahead") {
			t.Errorf("confirmation prompt = %q", out.String())
		}
	}
}

// TestConfirmInterrupted: Ctrl-C while the prompt waits for an answer ends
// the wait at once, whatever the person might type later.
func TestConfirmInterrupted(t *testing.T) {
	p := &prepared{conn: &connection{}, plan: &plan.Plan{}, sheet: &sheet{path: "leavers.csv", Sheet: &input.Sheet{}}}
	stdin, typing := io.Pipe() // nobody types
	defer typing.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := confirm(ctx, IO{Out: io.Discard, In: stdin}, p, 7)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("confirm() after Ctrl-C = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("confirm() still waits for an answer after Ctrl-C")
	}
}

// TestSameOrg: a journal's runs are matched to the org by the org's ID and
// the API domain actually used, never by a description; a journal that
// does not say which org it was against is never taken for this one.
func TestSameOrg(t *testing.T) {
	p := &prepared{conn: &connection{}, apiDomain: "https://www.zohoapis.eu",
		dir: directory.Directory{Org: zoho.Org{ID: "5210498000000000101", CompanyName: "Northwind"}}}
	tests := []struct {
		name         string
		orgID, where string
		same         bool
	}{
		{"the same org", "5210498000000000101", "https://www.zohoapis.eu", true},
		{"another org in the same data centre", "5210498000000000999", "https://www.zohoapis.eu", false},
		{"the same ID in another data centre", "5210498000000000101", "https://www.zohoapis.com", false},
		{"an older journal, domain described", "", "the api_domain of the token", false},
		{"an older journal, same domain", "", "https://www.zohoapis.eu", false},
	}
	for _, tt := range tests {
		same, known := sameOrg(&journal.Record{OrgID: tt.orgID, APIDomain: tt.where}, p)
		if same != tt.same || known == "" {
			t.Errorf("%s: sameOrg() = %v, %q; want %v and the journal's org named", tt.name, same, known, tt.same)
		}
	}
}

// TestDefaultOutput: two runs begun in the same second in one directory
// never share a results file or a journal.
func TestDefaultOutput(t *testing.T) {
	t.Chdir(t.TempDir())
	at := time.Date(2026, 12, 2, 2, 30, 5, 0, time.Local)
	if got := DefaultOutput(at); got != "offboard-results-20261202-023005.xlsx" {
		t.Fatalf("DefaultOutput() = %q", got)
	}
	os.WriteFile("offboard-results-20261202-023005.xlsx.journal", nil, 0o600) // a run under way
	if got := DefaultOutput(at); got != "offboard-results-20261202-023005-2.xlsx" {
		t.Errorf("DefaultOutput() beside a journal of that name = %q, want -2", got)
	}
	os.WriteFile("offboard-results-20261202-023005-2.xlsx", nil, 0o600)
	if got := DefaultOutput(at); got != "offboard-results-20261202-023005-3.xlsx" {
		t.Errorf("DefaultOutput() beside both = %q, want -3", got)
	}
}

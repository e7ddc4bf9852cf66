package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// readSheetRows reads a sheet of a workbook as maps from header to cell,
// with the header.
func readSheetRows(t *testing.T, path, sheet string) ([]string, []map[string]string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheet)
	if err != nil || len(rows) == 0 {
		t.Fatalf("read sheet %s of %s: %v", sheet, filepath.Base(path), err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, name := range rows[0] {
			if i < len(r) {
				m[name] = r[i]
			}
		}
		out = append(out, m)
	}
	return rows[0], out
}

// readSummary reads the Summary sheet as label to value.
func readSummary(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	rows, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range rows {
		if len(r) == 2 {
			m[r[0]] = r[1]
		} else if len(r) == 1 {
			m[r[0]] = ""
		}
	}
	return m
}

// TestRetryRoundTrip: the Retry sheet says why each row is there and
// which row of the original sheet it was; read back as input
// (--sheet Retry), its rows run again, and the next Retry sheet still
// names the original rows, not the Retry sheet's.
func TestRetryRoundTrip(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.xlsx"), filepath.Join(dir, "second.xlsx")
	code, stdout, stderr := runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.xlsx", "--output", first, "--as-of", "2026-11-28")
	if code != exitIncomplete {
		t.Fatalf("first run = %d, want 3; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Each ticket's row in the original sheet, and why it needs another try.
	_, results := readSheetRows(t, first, "Results")
	wantRetry := map[string][3]string{}
	for _, r := range results {
		if r["Outcome"] == "failed" || r["Outcome"] == "invalid" || r["Outcome"] == "not_run" {
			wantRetry[r["ticket"]] = [3]string{r["Row"], r["Outcome"], r["Code"]}
		}
	}
	header, retry := readSheetRows(t, first, "Retry")
	if want := []string{"Original Row", "Last Outcome", "Last Code", "Last Message"}; !cmp.Equal(header[len(header)-4:], want) {
		t.Fatalf("Retry header = %q, want it to end with %q", header, want)
	}
	check := func(name string, retry []map[string]string, wantRetry map[string][3]string) {
		t.Helper()
		got := map[string][3]string{}
		moved := 0
		for i, r := range retry {
			got[r["ticket"]] = [3]string{r["Original Row"], r["Last Outcome"], r["Last Code"]}
			if r["Last Message"] == "" {
				t.Errorf("%s: Retry row of %s has no Last Message", name, r["ticket"])
			}
			if r["Original Row"] != "" && r["Original Row"] != strconv.Itoa(i+2) {
				moved++
			}
		}
		if diff := cmp.Diff(wantRetry, got); diff != "" {
			t.Errorf("%s: Retry rows by ticket: original row, outcome, code (-want +got):\n%s", name, diff)
		}
		if moved == 0 {
			t.Errorf("%s: every Original Row is the Retry sheet's own row number; the test shows nothing", name)
		}
	}
	check("first run", retry, wantRetry)

	// The Retry sheet reads back as input: plan it, then run it.
	code, stdout, stderr = runCmd(t, nil, "plan", "--sandbox", "--input", first, "--sheet", "Retry", "--output", filepath.Join(dir, "plan.xlsx"), "--as-of", "2026-11-28")
	if code != exitIncomplete || !strings.Contains(stdout, `Plan for first.xlsx (sheet "Retry"): 10 rows`) {
		t.Fatalf("plan --sheet Retry = %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, nil, "run", "--sandbox", "--yes", "--input", first, "--sheet", "Retry", "--output", second, "--as-of", "2026-11-28")
	if code != exitIncomplete {
		t.Fatalf("run --sheet Retry = %d, want 3; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	header2, retry2 := readSheetRows(t, second, "Retry")
	if !cmp.Equal(header2, header) {
		t.Errorf("second Retry header = %q, want %q (no column twice)", header2, header)
	}
	// HR-1041 and HR-1055 name one user with different targets: both
	// are in the Retry sheet, and both stay there until a person chooses.
	check("run of the Retry sheet", retry2, wantRetry)
	resultsHeader, _ := readSheetRows(t, second, "Results")
	seen := map[string]bool{}
	for _, h := range resultsHeader {
		if seen[h] {
			t.Errorf("Results of the run of the Retry sheet name column %q twice: %q", h, resultsHeader)
		}
		seen[h] = true
	}
}

// TestSummaryAudit: the Summary of a run names the org, the API domain,
// the admin whose token ran it, the host, the version, the settings and
// the input; the workbook rebuilt from the journal says the same.
func TestSummaryAudit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run.xlsx")
	code, stdout, stderr := runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.xlsx", "--output", out,
		"--as-of", "2026-11-28", "--max-jobs", "4", "--rate", "20", "--concurrency", "3", "--max-deletes", "40")
	if code != exitIncomplete {
		t.Fatalf("run = %d, want 3; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	host, _ := os.Hostname()
	want := map[string]string{
		"Org":                  "Northwind Demo Traders",
		"Org ID":               "5210498000000000101",
		"API domain":           "sandbox",
		"Admin (token's user)": "Margaret Holloway <margaret.holloway@northwind-demo.example>",
		"Admin user ID":        "5210498000000411001",
		"Host":                 host,
		"Input file":           "offboarding.xlsx",
		"Sheet":                "offboarding",
		"Max jobs":             "4",
		"Rate":                 "20 API calls a second",
		"Concurrency":          "3 API calls in flight",
		"Strict":               "no",
		"Max deletes":          "40",
		"No wait":              "no",
	}
	got := readSummary(t, out)
	for label, v := range want {
		if got[label] != v {
			t.Errorf("Summary %q = %q, want %q", label, got[label], v)
		}
	}
	for _, label := range []string{"Version", "Input SHA-256", "Job timeout"} {
		if got[label] == "" {
			t.Errorf("Summary %q is blank", label)
		}
	}

	rebuilt := filepath.Join(dir, "rebuilt.xlsx")
	if code, stdout, stderr := runCmd(t, nil, "report", "--journal", out+".journal", "--output", rebuilt); code != 0 {
		t.Fatalf("report = %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	again := readSummary(t, rebuilt)
	for _, label := range slices.Sorted(maps.Keys(want)) {
		if again[label] != got[label] {
			t.Errorf("rebuilt Summary %q = %q, want %q as the run's", label, again[label], got[label])
		}
	}
	for _, label := range []string{"Version", "Input SHA-256", "Job timeout"} {
		if again[label] != got[label] {
			t.Errorf("rebuilt Summary %q = %q, want %q as the run's", label, again[label], got[label])
		}
	}
}

// TestDeletedRowsSayWho: a deleted row keeps the plan's message, who
// received the records and the subordinates, and shows the targets'
// emails beside their IDs.
func TestDeletedRowsSayWho(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.xlsx")
	if code, stdout, stderr := runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.xlsx", "--output", out, "--as-of", "2026-11-28"); code != exitIncomplete {
		t.Fatalf("run = %d, want 3; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	_, rows := readSheetRows(t, out, "Results")
	byTicket := map[string]map[string]string{}
	for _, r := range rows {
		byTicket[r["ticket"]] = r
	}
	henrik := byTicket["HR-1045"] // transfers to Sofia and moves subordinates to her
	if henrik["Outcome"] != "deleted" {
		t.Fatalf("HR-1045 = %q, want deleted", henrik["Outcome"])
	}
	for _, want := range []string{"transferring records and assignment to Sofia Marquez", "moving subordinates to Sofia Marquez"} {
		if !strings.Contains(henrik["Message"], want) {
			t.Errorf("HR-1045 Message = %q, want it to say %q", henrik["Message"], want)
		}
	}
	if got := henrik["Transfer To Email"]; got != "sofia.marquez@northwind-demo.example" {
		t.Errorf("HR-1045 Transfer To Email = %q", got)
	}
	if got := henrik["Subordinates To Email"]; got != "sofia.marquez@northwind-demo.example" {
		t.Errorf("HR-1045 Subordinates To Email = %q", got)
	}
	// The row named its target by ID: its email is there too.
	if james := byTicket["HR-1047"]; james["Transfer To Email"] != "samuel.reyes@northwind-demo.example" || james["Message"] == "" {
		t.Errorf("HR-1047 Transfer To Email, Message = %q, %q; want samuel.reyes@northwind-demo.example and the plan's message", james["Transfer To Email"], james["Message"])
	}
}

// TestRefusedRunSummary: a run a guard refuses, or a --dry-run, writes the
// plan, and its Summary says it was offboard run, sending nothing.
func TestRefusedRunSummary(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--max-deletes", "2"}, {"--dry-run"}} {
		out := filepath.Join(dir, "r.xlsx")
		runCmd(t, nil, append([]string{"run", "--sandbox", "--yes", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--force"}, args...)...)
		got := readSummary(t, out)
		if got["Command"] != "run" || got["Dry run"] != "yes" {
			t.Errorf("run %v: Summary Command %q, Dry run %q; want run, yes", args, got["Command"], got["Dry run"])
		}
	}
}

package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"offboard/journal"
	"offboard/sandbox"
)

// sampleOutcomes is what the samples must plan to against the sandbox org
// on 2026-11-28: row number → outcome and code.
var sampleOutcomes = map[string][2]string{
	"2":  {"invalid", "DUPLICATE_ROW"}, // row 15 names Aisha Bello with another transfer_to
	"3":  {"planned", ""},
	"4":  {"planned", ""},
	"5":  {"planned", ""},
	"6":  {"planned", ""},
	"7":  {"planned", ""},
	"8":  {"planned", ""},
	"9":  {"skipped", "ALREADY_DELETED"},
	"10": {"deferred", "NOT_DUE"},
	"11": {"invalid", "SUPER_ADMIN"},
	"12": {"invalid", "USER_NOT_FOUND"},
	"13": {"invalid", "TARGET_INACTIVE"},
	"14": {"invalid", "BAD_VALUE"},
	"15": {"invalid", "DUPLICATE_ROW"},
	"16": {"invalid", "TARGET_IS_SUBORDINATE"},
	"17": {"invalid", "MISSING_ACTION"},
	"18": {"invalid", "TARGET_IS_USER"},
}

// readResults returns the Results sheet as maps from column name to cell.
func readResults(t *testing.T, path string) []map[string]string {
	t.Helper()
	_, rows := readSheetRows(t, path, "Results")
	return rows
}

// TestPlanSamples plans both sample sheets against a simulated org reached
// through the environment, checks every row's outcome in the workbook, and
// checks with the simulator's request log that nothing was written.
func TestPlanSamples(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	for _, sample := range []string{"samples/offboarding.csv", "samples/offboarding.xlsx"} {
		t.Run(filepath.Base(sample), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "plan.xlsx")
			code, stdout, stderr := runCmd(t, environ, "plan", "--input", sample, "--output", out, "--as-of", "2026-11-28")
			if code != exitIncomplete {
				t.Fatalf("offboard plan = %d, want 3 (some rows invalid); stderr:\n%s", code, stderr)
			}
			for _, want := range []string{"planned       6", "invalid       9", "skipped       1", "deferred      1", "row 11: SUPER_ADMIN", "Results: " + out} {
				if !strings.Contains(stdout, want) {
					t.Errorf("plan summary lacks %q:\n%s", want, stdout)
				}
			}
			got := map[string][2]string{}
			for _, r := range readResults(t, out) {
				got[r["Row"]] = [2]string{r["Outcome"], r["Code"]}
				if r["ticket"] == "" {
					t.Errorf("row %s lost its ticket column", r["Row"])
				}
			}
			if diff := cmp.Diff(sampleOutcomes, got); diff != "" {
				t.Errorf("outcomes by row (-want +got):\n%s", diff)
			}

			// The Retry sheet is an input sheet again: the 8 invalid rows,
			// unchanged. Read back alone, they plan as before, except the
			// duplicate of row 2, which is now the only row for its user.
			again := filepath.Join(t.TempDir(), "again.csv")
			code, _, stderr = runCmd(t, environ, "plan", "--input", out, "--sheet", "Retry", "--output", again, "--as-of", "2026-11-28")
			if code != exitIncomplete {
				t.Fatalf("offboard plan --sheet Retry = %d, want 3; stderr:\n%s", code, stderr)
			}
			f, err := os.Open(again)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			records, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatalf("reading the CSV results back: %v", err)
			}
			col := slices.Index(records[0], "Outcome")
			if col < 0 {
				t.Fatalf("CSV results header = %v, want an Outcome column", records[0])
			}
			if len(records) != 10 {
				t.Errorf("re-planning the Retry sheet gave %d rows, want the 9 invalid ones", len(records)-1)
			}
			var outcomes []string
			for _, r := range records[1:] {
				outcomes = append(outcomes, r[col])
			}
			// Rows 2 and 15 name Aisha Bello with two targets: still both
			// invalid until a person chooses.
			want := []string{"invalid", "invalid", "invalid", "invalid", "invalid", "invalid", "invalid", "invalid", "invalid"}
			if diff := cmp.Diff(want, outcomes); diff != "" {
				t.Errorf("outcomes of the re-planned Retry sheet (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(again), "again.retry.csv")); err != nil {
				t.Errorf("CSV output wrote no retry file: %v", err)
			}
		})
	}
	for _, r := range srv.Requests() {
		if r.Method != "GET" && !r.Token {
			t.Errorf("plan sent %s %s; it must send no write", r.Method, r.Path)
		}
	}
}

func TestPlanUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"plan", "--sandbox"}, exitUsage, "missing --input"},
		{[]string{"plan", "--sandbox", "--input", "x.csv", "--output", "r.pdf"}, exitUsage, `--output "r.pdf"`},
		{[]string{"plan", "--sandbox", "--input", "x.csv", "--as-of", "28/11/2026"}, exitUsage, "--as-of"},
		{[]string{"plan", "--sandbox", "--input", "does-not-exist.csv"}, exitFatal, "does-not-exist.csv"},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("offboard %v = %d, %q; want %d and %q", tt.args, code, stderr, tt.code, tt.msg)
		}
	}
}

func TestPlanExitStatus(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	valid := write("valid.csv", "Email,New Owner\naisha.bello@northwind-demo.example,lucas.meyer@northwind-demo.example\nellen.park@northwind-demo.example,lucas.meyer@northwind-demo.example\n")
	code, stdout, stderr := runCmd(t, environ, "plan", "--input", valid, "--output", filepath.Join(dir, "valid.xlsx"))
	if code != exitOK {
		t.Errorf("offboard plan on a valid sheet = %d, want 0; stdout %s stderr %s", code, stdout, stderr)
	}

	before := len(srv.Requests())
	badHeader := write("bad.csv", "name,owner,owner\nx,y,z\n")
	code, _, stderr = runCmd(t, environ, "plan", "--input", badHeader)
	if code != exitFatal || !strings.Contains(stderr, "bad.csv") || !strings.Contains(stderr, "user") {
		t.Errorf("offboard plan on a sheet without a user column = %d, %q; want 1 naming the file and the column", code, stderr)
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("a sheet with a bad header made %d calls to Zoho, want 0", n)
	}

	srv.SetCaller("5210498000000412001") // Daniel Okafor, an Administrator but not the super admin
	code, _, stderr = runCmd(t, environ, "plan", "--input", valid, "--output", filepath.Join(dir, "x.xlsx"))
	if code != exitFatal || !strings.Contains(stderr, "super admin") {
		t.Errorf("offboard plan with a non super admin token = %d, %q; want 1 naming the super admin problem", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.xlsx")); err == nil {
		t.Errorf("a refused plan wrote a results file")
	}
}

// TestPlanHiddenRows plans a sheet whose filter hides two rows: they are
// skipped as HIDDEN_ROW and counted, unless --include-hidden plans them.
func TestPlanHiddenRows(t *testing.T) {
	dir := t.TempDir()
	sheet := filepath.Join(dir, "filtered.xlsx")
	f := excelize.NewFile()
	rows := [][]any{
		{"user", "transfer_to", "approved"},
		{"aisha.bello@northwind-demo.example", "lucas.meyer@northwind-demo.example", "yes"},
		{"tom.brennan@northwind-demo.example", "lucas.meyer@northwind-demo.example", "no"},
		{"mei.tanaka@northwind-demo.example", "lucas.meyer@northwind-demo.example", "yes"},
		{"carlos.diaz@northwind-demo.example", "lucas.meyer@northwind-demo.example", "no"},
	}
	for i, r := range rows {
		if err := f.SetSheetRow("Sheet1", "A"+strconv.Itoa(i+1), &r); err != nil {
			t.Fatal(err)
		}
	}
	for _, hidden := range []int{3, 5} { // filtered out: approved = no
		if err := f.SetRowVisible("Sheet1", hidden, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(sheet); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		flags   []string
		hidden  string // the outcome of rows 3 and 5
		summary string
		printed string
	}{
		{nil, "skipped HIDDEN_ROW", "2, skipped (HIDDEN_ROW)", "2 rows hidden in the sheet (filtered out or hidden by hand) were skipped as HIDDEN_ROW; --include-hidden plans them"},
		{[]string{"--include-hidden"}, "planned ", "2, planned like the others (--include-hidden)", "2 rows hidden in the sheet were planned like the others (--include-hidden)"},
	} {
		out := filepath.Join(dir, "plan.xlsx")
		code, stdout, stderr := runCmd(t, nil, append([]string{"plan", "--sandbox", "--input", sheet, "--output", out}, tt.flags...)...)
		if code != exitOK || !strings.Contains(stdout, tt.printed) {
			t.Fatalf("offboard plan %v = %d; want 0 and %q; stdout:\n%s\nstderr:\n%s", tt.flags, code, tt.printed, stdout, stderr)
		}
		for _, r := range readResults(t, out) {
			got := r["Outcome"] + " " + r["Code"]
			want := "planned "
			if r["Row"] == "3" || r["Row"] == "5" {
				want = tt.hidden
			}
			if got != want {
				t.Errorf("offboard plan %v, row %s = %q, want %q", tt.flags, r["Row"], got, want)
			}
		}
		wb, err := excelize.OpenFile(out)
		if err != nil {
			t.Fatal(err)
		}
		summary, _ := wb.GetRows("Summary")
		wb.Close()
		found := false
		for _, r := range summary {
			if len(r) > 1 && r[0] == "Hidden rows" {
				found = r[1] == tt.summary
				if !found {
					t.Errorf("Summary's Hidden rows = %q, want %q", r[1], tt.summary)
				}
			}
		}
		if !found {
			t.Errorf("the Summary has no Hidden rows line saying %q", tt.summary)
		}
	}
}

// TestResumeKeepsIncludeHidden: an interrupted run planned the hidden rows
// (--include-hidden); resuming it without the flag would plan other rows,
// so it is refused, naming the flag, before anything is sent.
func TestResumeKeepsIncludeHidden(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("samples/offboarding.csv")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	jpath := filepath.Join(dir, "run.journal")
	j, _, err := journal.Open(jpath, journal.Owner{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(journal.Record{Kind: journal.KindStart, InputFile: "samples/offboarding.csv",
		InputSHA256: hex.EncodeToString(sum[:]), IncludeHidden: true}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	code, _, stderr := runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.csv",
		"--journal", jpath, "--output", filepath.Join(dir, "r.xlsx"), "--as-of", "2026-11-28")
	if code != exitFatal || !strings.Contains(stderr, "started with --include-hidden") {
		t.Errorf("resuming without --include-hidden = %d, %q; want 1, naming the flag", code, stderr)
	}
}

// TestNeverWritesOverTheInput: plan, run and report refuse an output (or
// journal) that is the file they read, by path or by another name for it;
// the file is left as it was.
func TestNeverWritesOverTheInput(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("samples/offboarding.csv")
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "leavers.csv")
	os.WriteFile(in, data, 0o644)
	link := filepath.Join(dir, "link.csv")
	os.Link(in, link)
	for _, args := range [][]string{
		{"plan", "--sandbox", "--input", in, "--output", in},
		{"plan", "--sandbox", "--input", in, "--output", link},
		{"run", "--sandbox", "--yes", "--input", in, "--output", in},
		{"run", "--sandbox", "--yes", "--input", in, "--output", filepath.Join(dir, "r.xlsx"), "--journal", in},
		{"report", "--journal", in, "--output", in},
	} {
		code, _, stderr := runCmd(t, nil, args...)
		if code != exitFatal || !strings.Contains(stderr, "never writes over the file it reads") {
			t.Errorf("offboard %s = %d, %q; want 1, refusing", strings.Join(args, " "), code, stderr)
		}
		if now, _ := os.ReadFile(in); string(now) != string(data) {
			t.Fatalf("offboard %s changed the input", strings.Join(args, " "))
		}
	}
	// A CSV's Retry rows go beside it, in out.retry.csv for out.csv: the
	// Retry workflow's input, which --output out.csv must not write over.
	retry := filepath.Join(dir, "out.retry.csv")
	os.WriteFile(retry, data, 0o644)
	for _, cmd := range []string{"plan", "run"} {
		args := []string{cmd, "--sandbox", "--yes", "--input", retry, "--output", filepath.Join(dir, "out.csv")}
		if cmd == "plan" {
			args = slices.Delete(args, 2, 3)
		}
		code, _, stderr := runCmd(t, nil, args...)
		if code != exitFatal || !strings.Contains(stderr, "never writes over the file it reads") {
			t.Errorf("offboard %s = %d, %q; want 1, refusing", strings.Join(args, " "), code, stderr)
		}
		if now, _ := os.ReadFile(retry); string(now) != string(data) {
			t.Fatalf("offboard %s changed the Retry rows it reads", cmd)
		}
	}
}

// TestKeepsFilesThatAreNotItsOwn: plan and run replace an earlier results
// file of theirs, but refuse (exit 1, naming --force) to write over any
// other file, HR's workbook or a CSV; --force replaces it.
func TestKeepsFilesThatAreNotItsOwn(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"hr.xlsx", "hr.csv"} {
		theirs := filepath.Join(dir, name)
		src := "samples/offboarding" + filepath.Ext(name)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(theirs, data, 0o644)
		for _, cmd := range [][]string{
			{"plan", "--sandbox", "--input", "samples/offboarding.csv", "--as-of", "2026-11-28", "--output", theirs},
			{"run", "--sandbox", "--yes", "--input", "samples/offboarding.csv", "--as-of", "2026-11-28", "--output", theirs},
		} {
			code, _, stderr := runCmd(t, nil, cmd...)
			if code != exitFatal || !strings.Contains(stderr, "not an offboard results file") || !strings.Contains(stderr, "--force") {
				t.Errorf("offboard %s over %s = %d, %q; want 1, naming --force", cmd[0], name, code, stderr)
			}
			if now, _ := os.ReadFile(theirs); string(now) != string(data) {
				t.Fatalf("offboard %s changed %s", cmd[0], name)
			}
		}
		// --force replaces it; then it is offboard's, and replaced again
		// without.
		args := []string{"plan", "--sandbox", "--input", "samples/offboarding.csv", "--as-of", "2026-11-28", "--output", theirs}
		if code, _, stderr := runCmd(t, nil, append(args, "--force")...); code == exitFatal {
			t.Errorf("offboard plan --force over %s = %d, %q; want it replaced", name, code, stderr)
		}
		if code, _, stderr := runCmd(t, nil, args...); code == exitFatal {
			t.Errorf("offboard plan over its own results %s = %d, %q; want it replaced", name, code, stderr)
		}
	}
	// report rebuilds a run's results: not over HR's workbook either.
	out := filepath.Join(dir, "r.xlsx")
	runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.csv", "--as-of", "2026-11-28", "--output", out)
	hr := filepath.Join(dir, "hr2.xlsx")
	data, _ := os.ReadFile("samples/offboarding.xlsx")
	os.WriteFile(hr, data, 0o644)
	if code, _, stderr := runCmd(t, nil, "report", "--journal", out+".journal", "--output", hr); code != exitFatal || !strings.Contains(stderr, "not an offboard results file") {
		t.Errorf("offboard report over HR's workbook = %d, %q; want 1, refusing", code, stderr)
	}
	if now, _ := os.ReadFile(hr); string(now) != string(data) {
		t.Errorf("offboard report changed HR's workbook")
	}
}

// TestUnwritableDirectory: plan, run and template say, before reading the
// org, that they cannot write in the output's directory, naming it. /sys
// takes no new file even from root.
func TestUnwritableDirectory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/sys is Linux's")
	}
	for _, args := range [][]string{
		{"plan", "--sandbox", "--input", "samples/offboarding.csv", "--output", "/sys/r.xlsx"},
		{"run", "--sandbox", "--yes", "--input", "samples/offboarding.csv", "--output", "/sys/r.xlsx"},
		{"template", "--output", "/sys/t.xlsx"},
	} {
		code, _, stderr := runCmd(t, nil, args...)
		if code != exitFatal || !strings.Contains(stderr, "cannot write in the directory /sys") {
			t.Errorf("offboard %s = %d, %q; want 1, naming the directory", args[0], code, stderr)
		}
	}
}

// TestJournalThatIsNotOne: --journal naming a file that is not a journal
// (notes, say) is refused, exit 1, and the file kept as it was.
func TestJournalThatIsNotOne(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("meeting notes\n"), 0o600)
	code, _, stderr := runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.csv", "--as-of", "2026-11-28",
		"--journal", notes, "--output", filepath.Join(dir, "r.xlsx"))
	if code != exitFatal || !strings.Contains(stderr, "is not an offboard journal") {
		t.Errorf("run --journal notes.txt = %d, %q; want 1, refusing", code, stderr)
	}
	if data, _ := os.ReadFile(notes); string(data) != "meeting notes\n" {
		t.Errorf("notes.txt = %q after the run, want it kept", data)
	}
}

// TestHeaderTooWide: a sheet whose header reaches past column XEO leaves
// no room for offboard's result columns: it is refused when read, naming
// the file, the column and the limit, before the org is read.
func TestHeaderTooWide(t *testing.T) {
	f := excelize.NewFile()
	f.SetCellValue("Sheet1", "A1", "user")
	f.SetCellValue("Sheet1", "B1", "transfer_to")
	f.SetCellValue("Sheet1", "XFD1", "note")
	f.SetCellValue("Sheet1", "A2", "aisha.bello@northwind-demo.example")
	f.SetCellValue("Sheet1", "B2", "lucas.meyer@northwind-demo.example")
	in := filepath.Join(t.TempDir(), "wide.xlsx")
	if err := f.SaveAs(in); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, nil, "plan", "--sandbox", "--input", in, "--output", filepath.Join(t.TempDir(), "p.xlsx"))
	if code != exitFatal || !strings.Contains(stderr, "wide.xlsx: the header reaches column XFD") || !strings.Contains(stderr, "columns A to XEO") {
		t.Errorf("offboard plan of a header at XFD = %d, %q; want 1 naming the column and the limit", code, stderr)
	}
	if strings.Contains(stderr, "org directory read") {
		t.Errorf("the org was read before the sheet was refused:\n%s", stderr)
	}
}

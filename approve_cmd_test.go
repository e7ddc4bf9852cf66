package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"offboard/journal"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

// The sample's users that the approval tests name.
const (
	tomID   = "5210498000000418001" // row 3: tom → mei
	chloeID = "5210498000000425001" // row 4: chloe → zoe
	zoeID   = "5210498000000440001" // row 5: zoe → henrik, after row 4
)

// makePlan plans the sample sheet against the simulator into a sealed
// plan workbook.
func makePlan(t *testing.T, environ map[string]string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "plan.xlsx")
	if code, _, stderr := runCmd(t, environ, "plan", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28"); code != exitIncomplete {
		t.Fatalf("offboard plan = %d, want 3 (the sample's invalid rows); stderr:\n%s", code, stderr)
	}
	return out
}

// approve saves a copy of the plan workbook with the rows of the given
// input lines approved, by, as a reviewer's spreadsheet would (excelize
// writes the whole workbook again).
func approve(t *testing.T, plan, by string, edit func(f *excelize.File, row map[string]int, col map[string]string), lines ...int) string {
	t.Helper()
	f, err := excelize.OpenFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Results")
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h], _ = excelize.ColumnNumberToName(i + 1)
	}
	row := map[string]int{} // input line → sheet row
	for i, r := range rows[1:] {
		for j, h := range rows[0] {
			if h == "Row" && j < len(r) {
				row[r[j]] = i + 2
			}
		}
	}
	for _, l := range lines {
		if err := f.SetCellStr("Results", col["Approved"]+strconv.Itoa(row[strconv.Itoa(l)]), "yes"); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(f, row, col)
	}
	if err := f.SetDocProps(&excelize.DocProperties{LastModifiedBy: by}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "approved.xlsx")
	if err := f.SaveAs(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunApprovedPlan: offboard run --plan runs the approved rows and
// nothing else; the planned rows not approved end skipped NOT_APPROVED;
// the results and the journal name the plan's digest and its approver.
func TestRunApprovedPlan(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := makePlan(t, environ)
	digest := summaryValue(t, plan, "Plan digest")
	if len(digest) != 64 {
		t.Fatalf("the plan's Summary shows digest %q", digest)
	}
	approved := approve(t, plan, "Rita Reviewer", nil, 3, 4)
	out := filepath.Join(t.TempDir(), "run.xlsx")
	code, stdout, stderr := runCmd(t, environ, "run", "--plan", approved, "--output", out, "--yes")
	if code != exitIncomplete { // the plan's invalid rows stay invalid
		t.Fatalf("offboard run --plan = %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	subs := sandboxtest.Submissions(t, srv)
	var users []string
	for id := range subs {
		users = append(users, id)
	}
	slices.Sort(users)
	if want := []string{tomID, chloeID}; !slices.Equal(users, []string{tomID, chloeID}) {
		t.Errorf("users submitted = %v, want only the approved rows' %v", users, want)
	}
	for _, r := range readResults(t, out) {
		switch r["Row"] {
		case "3", "4":
			if r["Outcome"] != "deleted" {
				t.Errorf("approved row %s: %s %s %s", r["Row"], r["Outcome"], r["Code"], r["Message"])
			}
		case "5", "6", "7", "8":
			if r["Outcome"] != "skipped" || r["Code"] != "NOT_APPROVED" {
				t.Errorf("planned row %s not approved: %s %s, want skipped NOT_APPROVED", r["Row"], r["Outcome"], r["Code"])
			}
		}
	}
	if got := summaryValue(t, out, "Plan digest"); got != digest {
		t.Errorf("results' Plan digest = %q, want the plan's %q", got, digest)
	}
	if got := summaryValue(t, out, "Approved by"); !strings.Contains(got, "Rita Reviewer") {
		t.Errorf("results' Approved by = %q", got)
	}
	records, err := journal.Read(out + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	st := journal.Replay(records)
	if p := st.Start.Plan; p == nil || p.Digest != digest || p.ApprovedBy != "Rita Reviewer" || !slices.Equal(p.Approved, []int{3, 4}) {
		t.Errorf("journal's start record: plan %+v", p)
	}
	if !st.Finished {
		t.Errorf("the journal's run did not finish")
	}
}

// TestRunPlanRefuses: an edited plan, one too old, one whose target left
// since, and an approved row whose chain is not approved are refused,
// every difference named, nothing sent.
func TestRunPlanRefuses(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := makePlan(t, environ)
	edited := approve(t, plan, "", func(f *excelize.File, row map[string]int, col map[string]string) {
		_ = f.SetCellStr("Results", col["transfer_to"]+strconv.Itoa(row["3"]), "mallory@northwind-demo.example")
		_ = f.SetCellStr("Results", col["Code"]+strconv.Itoa(row["11"]), "")
	}, 3)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"edited", []string{"--plan", edited}, []string{"only its Approved column may be edited", `transfer_to, row 3 of the input): "mallory@northwind-demo.example", was "mei.tanaka@northwind-demo.example"`, "Code, row 11 of the input): blank, was \"SUPER_ADMIN\""}},
		{"too old", []string{"--plan", approve(t, plan, "", nil, 3), "--plan-max-age", "1ns"}, []string{"more than --plan-max-age 1ns"}},
		{"chain not approved", []string{"--plan", approve(t, plan, "", nil, 5)}, []string{"row 5 is approved but row 4 is not"}},
		{"with --input", []string{"--plan", plan, "--input", "samples/offboarding.csv"}, []string{"--plan and --input"}},
	}
	for _, tt := range tests {
		out := filepath.Join(t.TempDir(), "run.xlsx")
		code, _, stderr := runCmd(t, environ, append([]string{"run", "--output", out, "--yes"}, tt.args...)...)
		if code == exitOK || code == exitIncomplete {
			t.Errorf("%s: offboard run --plan = %d, want a refusal", tt.name, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tt.name, w, stderr)
			}
		}
		if n := sandboxtest.Writes(srv); n != 0 {
			t.Fatalf("%s: %d writes reached Zoho, want none", tt.name, n)
		}
	}

	// Zoe, to whom row 4 moves Chloe's records, is deleted after the plan
	// was approved: row 4 is refused, and nothing is sent.
	approved := approve(t, plan, "", nil, 3, 4)
	leaver := filepath.Join(t.TempDir(), "zoe.csv")
	if err := os.WriteFile(leaver, []byte("user,transfer_to\nzoe.adams@northwind-demo.example,henrik.lund@northwind-demo.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, environ, "run", "--input", leaver, "--output", filepath.Join(t.TempDir(), "zoe.xlsx"), "--yes"); code != exitOK {
		t.Fatalf("deleting Zoe = %d; stderr:\n%s", code, stderr)
	}
	writes := sandboxtest.Writes(srv)
	code, _, stderr := runCmd(t, environ, "run", "--plan", approved, "--output", filepath.Join(t.TempDir(), "run.xlsx"), "--yes")
	if code != exitFatal || !strings.Contains(stderr, "row 4: now invalid TARGET_DELETED") || !strings.Contains(stderr, zoeID) && !strings.Contains(stderr, "zoe.adams") {
		t.Errorf("run --plan after Zoe left = %d:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "row 3:") {
		t.Errorf("row 3, unchanged, is named:\n%s", stderr)
	}
	if n := sandboxtest.Writes(srv); n != writes {
		t.Errorf("%d writes reached Zoho after the refusal", n-writes)
	}
}

// TestRunPlanResavedByLibreOffice: a plan approved in a spreadsheet
// (openpyxl) and saved again by LibreOffice still verifies and runs; one
// with another cell edited there is refused. The fixtures were made with
// approval/testdata/make-fixtures.sh against the built-in sandbox.
func TestRunPlanResavedByLibreOffice(t *testing.T) {
	for _, tt := range []struct {
		file string
		code int
		want string
	}{
		{"approval/testdata/approved-libreoffice.xlsx", exitIncomplete, "deleted       2"},
		{"approval/testdata/edited-libreoffice.xlsx", exitFatal, `Results!A3 (user, row 3 of the input): "tom.brennan@northwind-demo.example ", was "tom.brennan@northwind-demo.example"`},
	} {
		out := filepath.Join(t.TempDir(), "run.xlsx")
		code, stdout, stderr := runCmd(t, nil, "run", "--sandbox", "--plan", tt.file, "--output", out, "--yes", "--plan-max-age", "876000h")
		if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("run --plan %s = %d, want %d and %q; stdout:\n%s\nstderr:\n%s", tt.file, code, tt.code, tt.want, stdout, stderr)
		}
	}
}

// summaryValue is the value beside label on a workbook's Summary sheet.
func summaryValue(t *testing.T, path, label string) string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if len(r) > 1 && r[0] == label {
			return r[1]
		}
	}
	return ""
}

// TestResumeApprovedPlan: a run of an approved plan that did not reach its
// end resumes with the same command: the rows it settled keep their
// results and are neither checked against the plan again (their users are
// deleted now) nor sent again. Only the same plan, approved the same way,
// resumes it.
func TestResumeApprovedPlan(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := makePlan(t, environ)
	approved := approve(t, plan, "", nil, 3, 4)
	out := filepath.Join(t.TempDir(), "run.xlsx")
	args := []string{"run", "--plan", approved, "--output", out, "--yes"}
	if code, _, stderr := runCmd(t, environ, args...); code != exitIncomplete {
		t.Fatalf("first run = %d; stderr:\n%s", code, stderr)
	}
	// The run "did not reach its end": its end record goes.
	jpath := out + ".journal"
	data, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !strings.Contains(lines[len(lines)-1], `"kind":"end"`) {
		t.Fatalf("the journal's last line is not its end: %s", lines[len(lines)-1])
	}
	if err := os.WriteFile(jpath, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writes := sandboxtest.Writes(srv)

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"other rows approved", []string{"run", "--plan", approve(t, plan, "", nil, 3), "--output", out, "--yes"}, "with other rows approved"},
		{"the input itself", []string{"run", "--input", "samples/offboarding.csv", "--as-of", "2026-11-28", "--output", out, "--yes"}, "holds an interrupted run of the approved plan"},
	} {
		if code, _, stderr := runCmd(t, environ, tt.args...); code != exitFatal || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: = %d, want 1 and %q:\n%s", tt.name, code, tt.want, stderr)
		}
	}

	code, stdout, stderr := runCmd(t, environ, args...)
	if code != exitIncomplete || !strings.Contains(stdout, "Resumed run of the approved plan") {
		t.Fatalf("resumed run = %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := sandboxtest.Writes(srv); n != writes {
		t.Errorf("the resumed run sent %d writes, want none", n-writes)
	}
	for _, r := range readResults(t, out) {
		if (r["Row"] == "3" || r["Row"] == "4") && (r["Outcome"] != "deleted" || r["Job ID"] == "") {
			t.Errorf("row %s after resuming: %s %s %s, job %q", r["Row"], r["Outcome"], r["Code"], r["Message"], r["Job ID"])
		}
	}
}

// TestRunPlanOrgChanged: a target deactivated and, for a row that moves
// subordinates, the user's role changed in Zoho after the plan was
// approved: each is named, and nothing is sent.
func TestRunPlanOrgChanged(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := makePlan(t, environ)
	approved := approve(t, plan, "", nil, 3, 4, 5, 6)
	const meiID, henrikID = "5210498000000419001", "5210498000000416001"
	var oldRole string
	if !srv.ChangeUser(meiID, func(u *sandbox.User) { u.Status = "inactive" }) ||
		!srv.ChangeUser(henrikID, func(u *sandbox.User) {
			oldRole = u.Role.ID
			u.Role = sandbox.Ref{ID: "5210498000000999001", Name: "Elsewhere"}
		}) {
		t.Fatal("no such users in the sandbox")
	}
	code, _, stderr := runCmd(t, environ, "run", "--plan", approved, "--output", filepath.Join(t.TempDir(), "run.xlsx"), "--yes")
	for _, w := range []string{
		"row 3: now invalid TARGET_INACTIVE",
		"row 6: user " + henrikID + " (henrik.lund@northwind-demo.example): role was " + oldRole + ", is now 5210498000000999001",
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if code != exitFatal || strings.Contains(stderr, "row 4:") || strings.Contains(stderr, "row 5:") {
		t.Errorf("run --plan = %d, want 1 naming rows 3 and 6 only:\n%s", code, stderr)
	}
	if n := sandboxtest.Writes(srv); n != 0 {
		t.Errorf("%d writes reached Zoho, want none", n)
	}
}

// TestRunPlanMadeAsOfALaterDay: a plan made --as-of a later day (next
// month's leavers, reviewed today) plans rows not yet due; run today, such
// an approved row would be sent before its effective_date: refused, naming
// it, nothing sent. A plan dated later than now is refused too.
func TestRunPlanMadeAsOfALaterDay(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := filepath.Join(t.TempDir(), "plan.xlsx")
	// Row 10 (Samuel Reyes) is due 2027-01-15.
	if code, _, stderr := runCmd(t, environ, "plan", "--input", "samples/offboarding.csv", "--output", plan, "--as-of", "2027-02-01"); code != exitIncomplete {
		t.Fatalf("offboard plan --as-of 2027-02-01 = %d; stderr:\n%s", code, stderr)
	}
	refusesPlan(t, srv, environ, approve(t, plan, "", nil, 10), "row 10: now deferred NOT_DUE")
}

// refusesPlan runs the approved plan and checks that it is refused (exit
// 1) with a message holding one of want, and that nothing reached Zoho.
func refusesPlan(t *testing.T, srv *sandbox.Server, environ map[string]string, plan string, want ...string) {
	t.Helper()
	code, _, stderr := runCmd(t, environ, "run", "--plan", plan, "--yes", "--output", filepath.Join(t.TempDir(), "r.xlsx"))
	said := false
	for _, w := range want {
		said = said || strings.Contains(stderr, w)
	}
	if code != exitFatal || !said {
		t.Errorf("run --plan %s = %d; stderr:\n%s\nwant 1, saying one of %q", filepath.Base(plan), code, stderr, want)
	}
	if n := sandboxtest.Writes(srv); n != 0 {
		t.Errorf("%d writes reached Zoho, want none", n)
	}
}

// TestRunPlanHiddenApproval: a row approved but hidden in the Results sheet
// (by hand, or by a filter) is a row the reviewer may not have seen: the
// plan is refused, naming it, and nothing is sent.
func TestRunPlanHiddenApproval(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := makePlan(t, environ)
	hidden := approve(t, plan, "", func(f *excelize.File, row map[string]int, col map[string]string) {
		_ = f.SetRowVisible("Results", row["3"], false)
	}, 3, 4)
	refusesPlan(t, srv, environ, hidden, "(row 3 of the input) is approved but hidden")
}

// TestRunPlanMaskedCells: a cell made to show other text than it holds (a
// conditional format, or a number format with text of its own) would let
// a reviewer approve what they did not see: refused, nothing sent.
func TestRunPlanMaskedCells(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 20 * time.Millisecond})
	plan := makePlan(t, environ)
	fake := `;;;"delete Tom Brennan, transferring records to Lucas Meyer"`
	for name, edit := range map[string]func(f *excelize.File, row map[string]int, col map[string]string){
		"number format": func(f *excelize.File, row map[string]int, col map[string]string) {
			style, _ := f.NewStyle(&excelize.Style{CustomNumFmt: &fake})
			cell := col["Message"] + strconv.Itoa(row["3"])
			if err := f.SetCellStyle("Results", cell, cell, style); err != nil {
				t.Fatal(err)
			}
		},
		"conditional format": func(f *excelize.File, row map[string]int, col map[string]string) {
			style, _ := f.NewConditionalStyle(&excelize.Style{Font: &excelize.Font{Color: "FFFFFF"}})
			cell := col["transfer_to"] + strconv.Itoa(row["3"])
			if err := f.SetConditionalFormat("Results", cell, []excelize.ConditionalFormatOptions{{Type: "formula", Criteria: "TRUE", Format: &style}}); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			refusesPlan(t, srv, environ, approve(t, plan, "", edit, 3), "other text than it holds", "shows text of its own")
		})
	}
}

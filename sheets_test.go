package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xuri/excelize/v2"

	"offboard/journal"
	"offboard/sandbox/sandboxtest"
)

// workbook writes a workbook whose sheets hold the given CSV lines.
func workbook(t *testing.T, path string, sheets map[string][]string, order ...string) {
	t.Helper()
	f := excelize.NewFile()
	for i, name := range order {
		if i == 0 {
			f.SetSheetName("Sheet1", name)
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for r, line := range sheets[name] {
			cells := strings.Split(line, ",")
			row := make([]any, len(cells))
			for k, c := range cells {
				row[k] = c
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+1)
			if err := f.SetSheetRow(name, cell, &row); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// TestAnotherSheetOfTheWorkbook: December's run of leavers.xlsx is killed
// with its jobs running; January's run of the same workbook, with no
// --output and no --journal, must not take December's rows: it starts
// its own run, results and journal, and sends January's users once each.
// December's command then resumes December.
func TestAnotherSheetOfTheWorkbook(t *testing.T) {
	t.Parallel()
	dir, csvSheet, srv, environ := journalOrg(t, 6)
	f, err := os.Open(csvSheet)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	f.Close()
	book := filepath.Join(dir, "leavers.xlsx")
	workbook(t, book, map[string][]string{
		"December": append([]string{lines[0]}, lines[1:4]...),
		"January":  append([]string{lines[0]}, lines[4:7]...),
	}, "December", "January")
	base := []string{"run", "--input", book, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}

	srv.HoldJobs()
	december, decJournal := startDefault(t, dir, environ, append(base, "--sheet", "December")...)
	waitJournal(t, decJournal, december, func(r []journal.Record) bool { return answers(r) >= 3 })
	december.cmd.Process.Signal(syscall.SIGKILL)
	december.wait(t)
	before, _ := os.ReadFile(decJournal)

	january, janJournal := startDefault(t, dir, environ, append(base, "--sheet", "January")...)
	srv.ReleaseJobs()
	if code := january.wait(t); code != exitOK {
		t.Errorf("January's run = %d, want 0; stderr:\n%s", code, january.stderr.String())
	}
	if janJournal == decJournal || strings.Contains(january.stderr.String(), "resuming") {
		t.Errorf("January's run resumed December's journal %s; stderr:\n%s", decJournal, january.stderr.String())
	}
	if after, _ := os.ReadFile(decJournal); string(after) != string(before) {
		t.Errorf("January's run wrote into December's journal")
	}
	subs := sandboxtest.Submissions(t, srv)
	for i := 3; i < 6; i++ {
		if n := len(subs[leaver(i)]); n != 1 {
			t.Errorf("January's user %d was submitted %d times, want once", i, n)
		}
	}
	// December's command again: it resumes December, sending nobody again.
	again := startIn(t, dir, environ, append(base, "--sheet", "December")...)
	if code := again.wait(t); code != exitOK || !strings.Contains(again.stderr.String(), "resuming the interrupted run") {
		t.Errorf("December's command again = %d, want 0, resuming; stderr:\n%s", code, again.stderr.String())
	}
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// leaver is the user ID of crashOrg's i-th leaver.
func leaver(i int) string { return fmt.Sprintf("52104980000009%05d", i) }

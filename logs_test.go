package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"offboard/sandbox"
)

// decodeLogLine decodes one JSON log line into its keys, and refuses what
// encoding/json lets through: a key given twice in any object (it keeps
// the last, and jq and Python do the same), or more than one value on the
// line.
func decodeLogLine(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	v, err := walkJSON(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value on the line")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a %T, not an object", v)
	}
	return obj, nil
}

// walkJSON reads one value token by token, checking every object's keys.
func walkJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := k.(string)
			if _, dup := obj[key]; dup {
				return nil, fmt.Errorf("key %q appears twice", key)
			}
			if obj[key], err = walkJSON(dec); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token() // }
		return obj, err
	case json.Delim('['):
		var arr []any
		for dec.More() {
			v, err := walkJSON(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ]
		return arr, err
	}
	return tok, nil
}

func TestDecodeLogLineFindsDuplicates(t *testing.T) {
	for line, ok := range map[string]bool{
		`{"a":1,"b":{"c":[1,{"d":2}]},"message":"m"}`: true,
		`{"message":"a","message":"b"}`:               false,
		`{"a":{"b":1,"b":2}}`:                         false,
		`{"a":[{"b":1,"b":2}]}`:                       false,
		`{"a":1}{"a":1}`:                              false,
		`"message"`:                                   false,
		`offboard run: 9 of 17 rows`:                  false,
	} {
		if _, err := decodeLogLine(line); (err == nil) != ok {
			t.Errorf("decodeLogLine(%s) = %v, want ok %v", line, err, ok)
		}
	}
}

// logLines parses a run's stderr under --log-format json: every line is
// one JSON object with each key once, the command's own last line too.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	var out []map[string]any
	for n, line := range lines {
		obj, err := decodeLogLine(line)
		if err != nil {
			t.Errorf("stderr line %d is not one JSON object with each key once: %v\n%s", n+1, err, line)
			continue
		}
		out = append(out, obj)
	}
	return out
}

// sampleUserCells maps the sample's row numbers to their user cells.
func sampleUserCells(t *testing.T) map[int]string {
	t.Helper()
	f, err := os.Open("samples/offboarding.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cells := map[int]string{}
	for i, rec := range records[1:] {
		cells[i+2] = strings.TrimSpace(rec[0])
	}
	return cells
}

// TestJSONLogsNameEveryProblemRow runs the sample sheet with JSON logs, as
// cron does: every line is one JSON object with each key once, and every
// line about a row that needs attention says which row, its code, why,
// and whose row it is by email, not only by a 19-digit ID.
func TestJSONLogsNameEveryProblemRow(t *testing.T) {
	_, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	code, stdout, stderr := runCmd(t, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "json")
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	cells := sampleUserCells(t)
	logged := map[int]int{}
	var ravi map[string]any
	all := logLines(t, stderr)
	if last := all[len(all)-1]; last["command"] != "run" || !strings.Contains(fmt.Sprint(last["message"]), "rows did not end deleted, skipped or deferred") {
		t.Errorf("the command's last line = %v, want a JSON line saying how the run ended", last)
	}
	for _, l := range all {
		if l["message"] == nil || l["level"] == nil || l["time"] == nil {
			t.Errorf("line without message, level or time: %v", l)
		}
		if _, ok := l["row"]; !ok || l["outcome"] == nil {
			continue
		}
		row, _ := strconv.Atoi(fmt.Sprint(l["row"]))
		logged[row]++
		outcome := fmt.Sprint(l["outcome"])
		if outcome == "deleted" {
			continue
		}
		for _, key := range []string{"code", "reason", "user_email"} {
			if s, _ := l[key].(string); s == "" && (key != "user_email" || cells[row] != "") {
				t.Errorf("row %d (%s): %s is empty or missing: %v", row, outcome, key, l)
			}
		}
		if row == 7 {
			ravi = l
		}
	}
	for row := range cells {
		if logged[row] != 1 {
			t.Errorf("row %d has %d result lines, want 1", row, logged[row])
		}
	}
	if ravi == nil || ravi["outcome"] != "failed" || ravi["code"] != "JOB_FAILED" || ravi["user_email"] != "ravi.patel@northwind-demo.example" ||
		!strings.Contains(fmt.Sprint(ravi["reason"]), "the job failed: ") || ravi["job_id"] == nil {
		t.Errorf("Ravi Patel's failed row's line = %v, want its outcome, code, reason, email and job", ravi)
	}
}

// TestConsoleLogsGiveTheReason: a failed job's line on a terminal also
// says why, and whose row it is.
func TestConsoleLogsGiveTheReason(t *testing.T) {
	_, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	code, _, stderr := runCmd(t, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "console")
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(stderr, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "code=JOB_FAILED") })
	if i < 0 || !strings.Contains(lines[i], "reason=") || !strings.Contains(lines[i], "the job failed: ") ||
		!strings.Contains(lines[i], "user_email=ravi.patel@northwind-demo.example") {
		t.Errorf("no console line gives the failed job's reason and user; stderr:\n%s", stderr)
	}
}

// TestPlanLogsEveryRow: offboard plan under --log-format json logs one
// line per row, as a run does, each with its outcome, reason and user.
func TestPlanLogsEveryRow(t *testing.T) {
	_, environ := simEnv(t, sandbox.Config{})
	out := filepath.Join(t.TempDir(), "plan.xlsx")
	code, _, stderr := runCmd(t, environ, "plan", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--log-format", "json")
	if code != exitIncomplete {
		t.Fatalf("offboard plan = %d; stderr:\n%s", code, stderr)
	}
	rows := map[string]map[string]any{}
	for _, l := range logLines(t, stderr) {
		if l["message"] == "row checked" {
			rows[fmt.Sprint(l["row"])] = l
		}
	}
	if len(rows) != 17 {
		t.Fatalf("%d row lines, want the sample's 17", len(rows))
	}
	if r := rows["3"]; r["outcome"] != "planned" || r["code"] != "" || !strings.HasPrefix(fmt.Sprint(r["reason"]), "delete Tom Brennan") || r["user_email"] != "tom.brennan@northwind-demo.example" {
		t.Errorf("row 3's line = %v", r)
	}
	if r := rows["11"]; r["outcome"] != "invalid" || r["code"] != "SUPER_ADMIN" {
		t.Errorf("row 11's line = %v", r)
	}
}

package report

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIsResults: offboard knows its own results files, and nothing else
// passes for one.
func TestIsResults(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"r.xlsx", "r.csv"} {
		path := filepath.Join(dir, name)
		w, err := Create(path, []string{"user"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(Summary{}); err != nil {
			t.Fatal(err)
		}
		if !IsResults(path) {
			t.Errorf("IsResults(offboard's own %s) = false", name)
		}
	}
	for _, path := range []string{"../samples/offboarding.xlsx", "../samples/offboarding.csv", filepath.Join(dir, "missing.xlsx")} {
		if IsResults(path) {
			t.Errorf("IsResults(%s) = true, want false", path)
		}
	}
	notZip := filepath.Join(dir, "fake.xlsx")
	os.WriteFile(notZip, []byte("name=\"Results\" name=\"Summary\""), 0o644)
	if IsResults(notZip) {
		t.Errorf("IsResults(a text file named .xlsx) = true")
	}
}

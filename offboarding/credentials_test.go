package offboarding

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentialsNotAFile: a directory or other non-file is refused with
// a message, not read.
func TestCredentialsNotAFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCredentials(dir)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadCredentials(a directory) = %v; want it refused", err)
	}
	_, err = LoadCredentials(filepath.Join(dir, "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "credentials file") {
		t.Errorf("LoadCredentials(missing) = %v", err)
	}
}

//go:build unix

package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlantedFiles: what another local user can leave where offboard
// writes its journal and lock (a symbolic link to a file of root's, a
// journal they own or anyone may write) is refused, and the file it
// points at is left as it was; so is a file that is not a journal.
func TestPlantedFiles(t *testing.T) {
	owner := Owner{PID: os.Getpid(), Host: "h", Started: time.Now()}
	victim := func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "secret.txt")
		os.WriteFile(p, []byte("root's own file\n"), 0o600)
		return p
	}
	tests := []struct {
		name  string
		plant func(t *testing.T, journal, target string)
		want  string
	}{
		{"the journal a symbolic link", func(t *testing.T, j, target string) { os.Symlink(target, j) }, "symbolic link"},
		{"the lock a symbolic link", func(t *testing.T, j, target string) { os.Symlink(target, j+".lock") }, "symbolic link"},
		{"a journal anyone may write", func(t *testing.T, j, _ string) {
			os.WriteFile(j, nil, 0o600)
			os.Chmod(j, 0o666)
		}, "written by others"},
		{"a hard link to another file", func(t *testing.T, j, target string) {
			other := filepath.Join(filepath.Dir(j), "empty-config")
			os.WriteFile(other, nil, 0o600)
			os.Link(other, j)
		}, "hard links"},
		{"another tool's JSON, one line", func(t *testing.T, j, _ string) {
			os.WriteFile(j, []byte(`{"kind":"Deployment","apiVersion":"apps/v1"}`), 0o600)
		}, "not an offboard journal"},
		{"another tool's JSON lines, the last cut short", func(t *testing.T, j, _ string) {
			os.WriteFile(j, []byte("{\"kind\":\"event\",\"msg\":\"a\"}\n{\"kind\":\"event\",\"msg\":\"b\"}\n{\"kind\":\"event\""), 0o600)
		}, `unknown kind "event"`},
		{"a file that is not a journal", func(t *testing.T, j, _ string) { os.WriteFile(j, []byte("meeting notes\n"), 0o600) }, "not an offboard journal"},
	}
	if os.Getuid() == 0 {
		tests = append(tests, struct {
			name  string
			plant func(t *testing.T, journal, target string)
			want  string
		}{"a journal of another user", func(t *testing.T, j, _ string) {
			os.WriteFile(j, nil, 0o600)
			os.Chown(j, 65534, 65534)
		}, "another user"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			target := victim(t, dir)
			path := filepath.Join(dir, "run.journal")
			tt.plant(t, path, target)
			before, _ := os.ReadFile(path)
			j, _, err := Open(path, owner)
			if err == nil {
				j.Close()
				t.Fatalf("Open() = no error, want one saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open() = %v, want it to say %q", err, tt.want)
			}
			if data, _ := os.ReadFile(target); string(data) != "root's own file\n" {
				t.Errorf("the link's target was changed: %q", data)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the planted file was changed: %q, was %q", after, before)
			}
		})
	}
}

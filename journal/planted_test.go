//go:build unix

package journal

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestLockPathHoldsAnotherFile: where the lock goes there may be someone
// else's file (--journal Gemfile puts the lock at Gemfile.lock): it is
// refused and left as it was, whether the journal would have been taken or
// not; a lock an offboard left cut short by a crash is still taken over.
func TestLockPathHoldsAnotherFile(t *testing.T) {
	owner := Owner{PID: os.Getpid(), Host: "h", Started: time.Now()}
	for _, tt := range []struct {
		name, content string
		journal       string // "" for no journal file
		refused       bool
	}{
		{"Gemfile.lock, no journal", "GEM\n  remote: https://rubygems.org/\n", "", true},
		{"a lock file of another tool, a journal beside it", "lockfileVersion: 3\n", "not a journal\n", true},
		{"an offboard lock cut short", `{"pid":12`, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "Gemfile")
			if tt.journal != "" {
				os.WriteFile(path, []byte(tt.journal), 0o600)
			}
			os.WriteFile(path+".lock", []byte(tt.content), 0o600)
			j, _, err := Open(path, owner)
			if err == nil {
				j.Close()
			}
			if tt.refused {
				if err == nil {
					t.Fatalf("Open() = no error, want the lock path refused")
				}
				if data, _ := os.ReadFile(path + ".lock"); string(data) != tt.content {
					t.Errorf("the file at the lock's path was changed: %q, was %q", data, tt.content)
				}
				return
			}
			if err != nil {
				t.Errorf("Open() over a lock cut short = %v, want it taken over", err)
			}
		})
	}
}

// TestReadRefusesWhatCouldHang: a FIFO planted where journals are looked
// for (beside a run's own) would block a read for ever, and a huge file
// would be read whole into memory: each is refused at once.
func TestReadRefusesWhatCouldHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.journal")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	if _, err := Read(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read(a FIFO) = %v, want it refused as not a regular file", err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "y.journal.lock"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := InUse(filepath.Join(dir, "y.journal")); err == nil {
		t.Errorf("InUse(a FIFO for a lock) = no error, want one")
	}
	big := filepath.Join(dir, "big.journal")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(MaxSize + 1) // sparse: no disk, no time
	f.Close()
	if _, err := Read(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Read(a file larger than MaxSize) = %v, want it refused", err)
	}
}

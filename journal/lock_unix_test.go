//go:build unix

package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// zombiePID is a child killed and not yet waited for: its pid still
// exists, but the process is gone.
func zombiePID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot run sleep: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	t.Cleanup(func() { cmd.Wait() })
	for range 500 {
		if state, _, ok := procStat(cmd.Process.Pid); !ok || state == 'Z' {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return cmd.Process.Pid
}

func TestLock(t *testing.T) {
	me := os.Getpid()
	started := time.Now().Truncate(time.Second) // JSON keeps what a lock file keeps
	tests := []struct {
		name      string
		lock      *Owner // written as the lock file; nil: a live Journal holds it
		wantOwner *Owner // the LockedError's owner; nil: Open succeeds
		wantStale bool
	}{
		{name: "held by a live journal", wantOwner: &Owner{PID: me, Host: "host-a", Started: t0}},
		{name: "live pid on this host", lock: &Owner{PID: me, Host: "host-b", Started: started},
			wantOwner: &Owner{PID: me, Host: "host-b", Started: started}},
		// The pid now belongs to a process that started after the lock
		// was taken: the holder is gone and its pid was reused.
		{name: "reused pid on this host", lock: &Owner{PID: me, Host: "host-b", Started: t0}, wantStale: true},
		{name: "killed, not yet reaped", lock: &Owner{PID: -2, Host: "host-b", Started: started}, wantStale: true},
		{name: "other host", lock: &Owner{PID: 1, Host: "elsewhere", Started: t0},
			wantOwner: &Owner{PID: 1, Host: "elsewhere", Started: t0}},
		{name: "dead pid on this host", lock: &Owner{PID: -1, Host: "host-b", Started: t0}, wantStale: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			if tt.lock == nil {
				// A run that crashed without Close, its lines on disk.
				j, _ := mustOpen(t, path, owner(me))
				defer j.Close()
				if err := j.Append(Record{Kind: KindStop, Time: t0, Reason: "r"}); err != nil {
					t.Fatal(err)
				}
			} else {
				o := *tt.lock
				switch o.PID {
				case -1:
					o.PID = deadPID(t)
				case -2:
					o.PID = zombiePID(t)
				}
				b, _ := json.Marshal(o)
				if err := os.WriteFile(path+".lock", b, 0o600); err != nil {
					t.Fatal(err)
				}
				tt.lock = &o
			}
			second := Owner{PID: me, Host: "host-b", Started: t0.Add(2 * time.Hour)}
			j, _, err := Open(path, second)
			if tt.wantOwner != nil {
				var le *LockedError
				if !errors.As(err, &le) {
					t.Fatalf("Open() = %v, want *LockedError", err)
				}
				if diff := cmp.Diff(*tt.wantOwner, le.Owner); diff != "" {
					t.Errorf("Open() LockedError owner (-want +got):\n%s", diff)
				}
				msg := err.Error()
				for _, s := range []string{fmt.Sprint(tt.wantOwner.PID), tt.wantOwner.Host, tt.wantOwner.Started.Format(time.RFC3339), path + ".lock"} {
					if !strings.Contains(msg, s) {
						t.Errorf("Open() = %q, want it to name %q", msg, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Open() = %v, want the stale lock taken over", err)
			}
			var got *Owner
			if tt.wantStale {
				got = tt.lock
			}
			if diff := cmp.Diff(got, j.StaleLock()); diff != "" {
				t.Errorf("StaleLock() (-want +got):\n%s", diff)
			}
			b, _ := os.ReadFile(path + ".lock")
			var now Owner
			json.Unmarshal(b, &now)
			if diff := cmp.Diff(second, now); diff != "" {
				t.Errorf("lock file after takeover (-want +got):\n%s", diff)
			}
			if err := j.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Close, stat lock = %v, want not exist", err)
			}
		})
	}
}

func TestLockHeldNotYetNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(path, owner(os.Getpid()))
	var le *LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "another run") {
		t.Errorf("Open() = %v, want a *LockedError saying another run holds it", err)
	}
}

func TestInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.journal")
	if _, held, _ := InUse(path); held {
		t.Errorf("InUse() of a journal nobody opened = true")
	}
	j, _ := mustOpen(t, path, owner(os.Getpid()))
	// This process holds the flock: another descriptor cannot take it.
	if o, held, _ := InUse(path); !held || o.PID != os.Getpid() {
		t.Errorf("InUse() of a held journal = %+v, %v; want this process", o, held)
	}
	if _, err := os.Stat(lockPath(path)); err != nil {
		t.Errorf("InUse() disturbed the lock file: %v", err)
	}
	j.Close()
	if _, held, _ := InUse(path); held {
		t.Errorf("InUse() of a closed journal = true")
	}
	// A lock file left by a dead process of this host is free.
	host, _ := os.Hostname()
	data, _ := json.Marshal(Owner{PID: deadPID(t), Host: host, Started: time.Now()})
	os.WriteFile(lockPath(path), data, 0o600)
	if _, held, _ := InUse(path); held {
		t.Errorf("InUse() of a dead process's lock = true")
	}
	// A lock file that cannot be opened (another user's, private) cannot
	// be said free: a symlink loop stands for it, since root opens any
	// file.
	os.Remove(lockPath(path))
	os.Symlink(lockPath(path), lockPath(path))
	if _, _, err := InUse(path); err == nil {
		t.Errorf("InUse() of a lock file that cannot be opened = no error, want one")
	}
}

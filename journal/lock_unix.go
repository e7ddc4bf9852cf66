//go:build unix

package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tryLock takes an exclusive flock on f without waiting; held reports
// that another process holds it.
func tryLock(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// alive reports whether the process that took a lock at since, with the
// pid, still runs on this host. EPERM means it exists under another user.
// Where /proc tells more (Linux), a zombie (killed, not yet reaped by its
// parent) is dead, and so is a process that started after since: the pid
// was reused by another program.
func alive(pid int, since time.Time) bool {
	if pid <= 0 {
		return false
	}
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	state, started, ok := procStat(pid)
	if !ok {
		return true
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return since.IsZero() || started.IsZero() || !started.After(since.Add(2*time.Second))
}

// procStat reads a process's state and start time from /proc (Linux).
func procStat(pid int) (state byte, started time.Time, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, time.Time{}, false
	}
	// pid (comm) state ppid ... : comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, time.Time{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, time.Time{}, false
	}
	state = f[0][0]
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22: start time, in clock ticks after boot
	if err != nil {
		return state, time.Time{}, true
	}
	boot, ok := bootTime()
	if !ok {
		return state, time.Time{}, true
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return state, boot.Add(time.Duration(ticks) * (time.Second / 100)), true
}

func bootTime() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "btime "); found {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
}

// syncDir flushes a directory's entries to disk, so that a new file's
// name survives a crash as well as its content.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// noFollow makes an open fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// nonBlock keeps an open of a FIFO from waiting for a writer.
const nonBlock = syscall.O_NONBLOCK

// checkOwner refuses a journal or lock file that another user owns, or
// that others may write: what offboard writes there, as whoever runs it
// (root under cron), must not be planted or read by someone else.
func checkOwner(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to another user (uid %d): offboard writes only its own files", f.Name(), st.Uid)
	}
	if st.Nlink > 1 {
		// Another name for someone's file (a hard link planted where the
		// journal goes): writing it would write their file.
		return fmt.Errorf("%s has %d names (hard links): offboard writes only a file that is its own", f.Name(), st.Nlink)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s may be written by others (mode %v): offboard writes only files no one else can", f.Name(), fi.Mode().Perm())
	}
	return nil
}

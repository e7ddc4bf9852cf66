//go:build windows

package journal

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive lock without waiting; held reports that
// another process holds it. A Windows lock is mandatory for the bytes it
// covers, so it covers one byte far past the end of the file, never its
// contents: another run must still read who holds the lock, to say so.
func tryLock(f *os.File) (held bool, err error) {
	ol := windows.Overlapped{OffsetHigh: 0x7fffffff}
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}

// alive reports whether the process with the pid, which took a lock at
// since, still runs on this host. A process that started after since is
// another program that was given the same pid.
func alive(pid int, since time.Time) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		// Access denied means it exists, under another user.
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != 259 { // STILL_ACTIVE
		return false
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err == nil && !since.IsZero() {
		return !time.Unix(0, created.Nanoseconds()).After(since.Add(2 * time.Second))
	}
	return true
}

// syncDir does nothing: Windows cannot open a directory to flush it, and
// NTFS records a new file's name in its journal.
func syncDir(string) error { return nil }

// noFollow: Windows opens have no such flag; Lstat refuses links first.
const noFollow = 0

// nonBlock: Windows has no FIFO in the file system; Lstat refuses what is
// not a regular file first.
const nonBlock = 0

// checkOwner: file ownership is not checked on Windows (ACLs).
func checkOwner(*os.File) error { return nil }

package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Owner is who holds a journal's lock.
type Owner struct {
	// PID is the holder's process id.
	PID int `json:"pid"`
	// Host is the holder's host name.
	Host string `json:"host"`
	// Started is when the holder took the lock.
	Started time.Time `json:"started"`
}

// LockedError is returned by Open when another run holds the journal.
type LockedError struct {
	// Path is the journal's path.
	Path string
	// Owner is the lock's holder, as its lock file names it.
	Owner Owner
}

// Error names the holder and what to do.
func (e *LockedError) Error() string {
	if e.Owner.PID == 0 {
		// The holder is between taking the lock and naming itself.
		return fmt.Sprintf("journal %s is in use by another run that has just started: wait for it to end", e.Path)
	}
	return fmt.Sprintf("journal %s is in use by pid %d on host %s since %s: wait for that run to end, or remove %s if it is not running",
		e.Path, e.Owner.PID, e.Owner.Host, e.Owner.Started.Format(time.RFC3339), lockPath(e.Path))
}

func lockPath(journal string) string { return journal + ".lock" }

// lock is a held lock file. The flock on its descriptor keeps two
// processes of this host from taking over the same stale lock at once; its
// JSON names the holder, for people and for runs on other hosts, where a
// flock may not be seen (NFS).
type lock struct {
	path  string
	f     *os.File
	owner []byte
}

// acquire takes the lock at path for owner. stale is the owner of a lock
// left by a dead process and taken over, nil if there was none.
func acquire(journal string, owner Owner) (l *lock, stale *Owner, err error) {
	path := lockPath(journal)
	data, err := json.Marshal(owner)
	if err != nil {
		return nil, nil, fmt.Errorf("lock journal %s: %w", journal, err)
	}
	// A few tries: another run may remove the file between our open and
	// our flock, and the flock then guards a name no longer in use.
	for range 5 {
		// Readable by all: it names a process and a host, nothing more,
		// and a run of another user in the directory must see it held.
		if err := notALink(path); err != nil {
			return nil, nil, fmt.Errorf("lock journal %s: %w", journal, err)
		}
		f, err := openOwn(path, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("lock journal %s: %w", journal, err)
		}
		if err := checkOwner(f); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("lock journal %s: %w", journal, err)
		}
		f.Chmod(0o644) // whatever the umask, or an older offboard's 0600
		held, err := tryLock(f)
		for try := 0; held && err == nil && try < 5; try++ {
			// InUse, run by another offboard looking for runs beside
			// it, holds a lock file for a moment: a holder that is
			// really running holds it for good.
			time.Sleep(20 * time.Millisecond)
			held, err = tryLock(f)
		}
		if held || err != nil {
			old, _ := readOwner(f)
			f.Close()
			if held {
				return nil, nil, &LockedError{Path: journal, Owner: old}
			}
			return nil, nil, fmt.Errorf("lock journal %s: %w", journal, err)
		}
		if !samePath(f, path) {
			f.Close()
			continue
		}
		old, err := readOwner(f)
		switch {
		case errors.Is(err, errEmpty):
			// A new lock file.
		case errors.Is(err, errNotLock):
			// Someone's file where the lock goes (--journal Gemfile
			// makes it Gemfile.lock): it is left as it is.
			f.Close()
			return nil, nil, fmt.Errorf("%s exists and is not an offboard lock: offboard leaves it as it is; pick another --journal", path)
		case err != nil:
			// Unreadable: its writer died while writing it, since it
			// writes with the flock held.
			stale = &Owner{}
		case old.Host != owner.Host || alive(old.PID, old.Started):
			f.Close()
			return nil, nil, &LockedError{Path: journal, Owner: old}
		default:
			stale = &old
		}
		if err := writeOwner(f, data); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("lock journal %s: %w", journal, err)
		}
		return &lock{path: path, f: f, owner: data}, stale, nil
	}
	return nil, nil, fmt.Errorf("lock journal %s: the lock file keeps changing", journal)
}

var (
	errEmpty   = errors.New("empty lock file")
	errNotLock = errors.New("not an offboard lock")
)

// lockPrefix is how every lock offboard writes begins (Owner's first
// field); a lock cut short by a crash holds a prefix of it, or more.
const lockPrefix = `{"pid":`

// notALink refuses a path that is a symbolic link (or anything but a
// regular file): a link planted where offboard writes its journal or lock
// would make it write, or truncate, the link's target.
func notALink(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: offboard does not follow it", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// Trusted reports why the journal at path is not one this user may take
// over, or nil: it must be a regular file, not a symbolic link, owned by
// this user and written by no one else. Open makes the same checks; a
// caller looking for a journal to resume uses Trusted to pass over one
// that another user planted.
func Trusted(path string) error {
	if err := notALink(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkOwner(f)
}

// openOwn opens the file at path for reading and writing, never through a
// symbolic link: a file that is not there is created exclusively (with
// perm), so that it is the one this process made, not one that appeared in
// between; one that is there is opened as it is, for the caller to check
// whose it is.
func openOwn(path string, perm os.FileMode) (*os.File, error) {
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|noFollow, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|noFollow, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
		// Made by someone else in between: open that one, and check it.
	}
	return nil, fmt.Errorf("%s keeps appearing and disappearing", path)
}

func readOwner(f *os.File) (Owner, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil {
		return Owner{}, err
	}
	if len(b) == 0 {
		return Owner{}, errEmpty
	}
	if n := min(len(b), len(lockPrefix)); string(b[:n]) != lockPrefix[:n] {
		return Owner{}, errNotLock
	}
	var o Owner
	if err := json.Unmarshal(b, &o); err != nil {
		return Owner{}, err
	}
	return o, nil
}

func writeOwner(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

// release removes the lock file if it still names us, then drops the
// lock. The file is removed first so that nobody finds it unlocked and
// naming us. Where an open file cannot be removed (Windows), it is emptied
// instead, and left: an empty lock file is a free one.
func (l *lock) release() error {
	var err error
	if b, rerr := io.ReadAll(io.NewSectionReader(l.f, 0, 1<<16)); rerr == nil && string(b) == string(l.owner) && samePath(l.f, l.path) {
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			if terr := l.f.Truncate(0); terr != nil {
				err = rerr
			}
		}
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// InUse reports whether a run holds the journal at path now, and who: its
// lock file is locked by another process, or names a process of this host
// that still runs, or one of another host (whose lock may not be seen from
// here). It takes nothing and changes nothing. err is set when a lock
// file is there but cannot be opened (another user's, made private by an
// older offboard): whether its run goes on cannot be told.
func InUse(path string) (Owner, bool, error) {
	f, err := openRegular(lockPath(path)) // a lock needs no write access
	if errors.Is(err, fs.ErrNotExist) {
		return Owner{}, false, nil // no lock file: nobody holds it
	}
	if err != nil {
		return Owner{}, false, fmt.Errorf("the lock of journal %s cannot be checked: %w", path, err)
	}
	defer f.Close() // drops the lock tryLock may take
	held, err := tryLock(f)
	owner, oerr := readOwner(f)
	switch {
	case held:
		return owner, true, nil
	case err != nil || oerr != nil:
		return Owner{}, false, nil
	}
	host, _ := os.Hostname()
	return owner, owner.Host != host || alive(owner.PID, owner.Started), nil
}

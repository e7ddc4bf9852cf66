package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Journal is an open journal, its lock held. Append is safe for
// concurrent use.
type Journal struct {
	path  string
	lock  *lock
	owner Owner
	stale *Owner

	mu     sync.Mutex
	f      *os.File
	broken error // set once a write failed: the file may end in a torn line
}

// CorruptError is a journal line that is not a record, before the last
// line. (A bad last line is a write cut short by a crash; Open drops it.)
type CorruptError struct {
	// Path is the journal's path.
	Path string
	// Line is the line's number, from 1.
	Line int
	// Err is why the line is not a record.
	Err error
}

// Error names the file and the line.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal %s: line %d is not a record: %v", e.Path, e.Line, e.Err)
}

// Unwrap returns Err.
func (e *CorruptError) Unwrap() error { return e.Err }

// Open takes the journal's lock for owner, reads the records already in
// the journal at path and opens it for appending; the file is created if
// it does not exist.
//
// A lock held by a live process, or by any process of another host, makes
// Open return a *LockedError. A last line cut short (the process died while
// writing it) is dropped from the file; any other line that is not a
// record is a *CorruptError.
func Open(path string, owner Owner) (*Journal, []Record, error) {
	l, stale, err := acquire(path, owner)
	if err != nil {
		return nil, nil, err
	}
	j, records, err := open(path)
	if err != nil {
		l.release()
		return nil, nil, err
	}
	j.lock, j.stale, j.owner = l, stale, owner
	return j, records, nil
}

func open(path string) (*Journal, []Record, error) {
	// Not O_APPEND: on Windows a file opened so cannot be truncated, and
	// a torn last line is dropped below. The lock makes this process the
	// only writer, and writes go at the end, where the read leaves the
	// offset (or where the truncation puts it).
	if err := notALink(path); err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	f, err := openOwn(path, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	if err := checkOwner(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	// The new file's name must survive a crash as well as its lines.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	records, keep, err := parse(path, data)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if len(records) == 0 && keep < len(data) && !firstLine(data) {
		// Not a record cut short: another file (--journal notes.txt). It
		// is left as it is.
		f.Close()
		return nil, nil, fmt.Errorf("%s is not an offboard journal: pick another --journal (offboard never rewrites a file that is not one of its journals)", path)
	}
	if keep < len(data) {
		if err := f.Truncate(int64(keep)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("drop the torn last line of journal %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("drop the torn last line of journal %s: %w", path, err)
		}
		if _, err := f.Seek(int64(keep), io.SeekStart); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("drop the torn last line of journal %s: %w", path, err)
		}
	}
	return &Journal{path: path, f: f}, records, nil
}

// firstLine reports whether data, with no whole record, begins as a
// journal's first record cut short does: a kill while offboard wrote it.
// Anything else (someone's JSON with a "kind" of its own) is not a
// journal, and is never truncated.
func firstLine(data []byte) bool {
	return bytes.HasPrefix(data, []byte(`{"kind":"start"`)) || bytes.HasPrefix(data, []byte(`{"kind":"history"`)) ||
		len(data) < len(`{"kind":"history"`) && (bytes.HasPrefix([]byte(`{"kind":"start"`), data) || bytes.HasPrefix([]byte(`{"kind":"history"`), data))
}

// parse reads the records in data; keep is the length of data that holds
// whole records, the rest being a torn last line.
func parse(path string, data []byte) (records []Record, keep int, err error) {
	line := 0
	for off := 0; off < len(data); {
		line++
		end := len(data)
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i
			next = end + 1
		}
		r, perr := parseLine(data[off:end])
		if perr != nil || end == len(data) {
			// Append writes a line and its newline at once: a line
			// without one was cut short, even if it parses.
			if next == len(data) || isBlank(data[next:]) {
				return records, off, nil
			}
			return nil, 0, &CorruptError{Path: path, Line: line, Err: perr}
		}
		records = append(records, r)
		off = next
	}
	return records, len(data), nil
}

func parseLine(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, err
	}
	switch r.Kind {
	case KindStart, KindSubmit, KindAnswer, KindStatus, KindFinal, KindStop, KindEnd, KindHistory:
		return r, nil
	case "":
		return Record{}, errors.New("no kind")
	}
	// Someone else's JSON lines ({"kind":"Deployment"...}): not a record.
	return Record{}, fmt.Errorf("unknown kind %q", r.Kind)
}

// isBlank reports whether b holds nothing but what a crash leaves after a
// torn write: zero bytes or white space.
func isBlank(b []byte) bool {
	for _, c := range b {
		switch c {
		case 0, ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// MaxSize bounds a journal Read takes in: compacted every ten runs, a
// journal of a year of nightly runs is a few MB; a file far larger was not
// written by offboard, and reading it whole would exhaust memory.
const MaxSize = 256 << 20

// openRegular opens path for reading if it is a regular file: never
// through a symbolic link, and never a FIFO or device, whose open or read
// could block for ever (a FIFO planted where journals are looked for).
func openRegular(path string) (*os.File, error) {
	if err := notALink(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

// Path returns the journal's path.
func (j *Journal) Path() string { return j.path }

// Owner returns the owner the journal was opened for, as its lock names
// it.
func (j *Journal) Owner() Owner { return j.owner }

// StaleLock returns the owner named by a lock that Open found left by a
// dead process and took over, or nil if there was none. Its fields are
// zero when that lock file could not be read.
func (j *Journal) StaleLock() *Owner { return j.stale }

// Append writes r as one line and flushes it to disk before returning. A
// zero r.Time is set to the current time. After a failed write every
// Append fails, so that no record follows a torn line.
func (j *Journal) Append(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken != nil {
		return j.broken
	}
	if j.f == nil {
		return fmt.Errorf("journal %s: closed", j.path)
	}
	if _, err := j.f.Write(b); err != nil {
		j.broken = fmt.Errorf("write journal %s: %w", j.path, err)
		return j.broken
	}
	if err := j.f.Sync(); err != nil {
		j.broken = fmt.Errorf("flush journal %s: %w", j.path, err)
		return j.broken
	}
	return nil
}

// Close closes the journal and releases its lock, removing the lock file
// if it still names this journal's owner.
func (j *Journal) Close() error { return j.close(false) }

// Discard removes the journal's file, for a run that wrote nothing to it,
// and then releases its lock: no other run can open the journal between
// the two and be left writing to a removed file.
func (j *Journal) Discard() error { return j.close(true) }

func (j *Journal) close(remove bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if remove {
		// Closed first: Windows removes no file that is open.
		if rerr := os.Remove(j.path); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if j.lock != nil {
		if lerr := j.lock.release(); err == nil && lerr != nil {
			err = fmt.Errorf("unlock journal %s: %w", j.path, lerr)
		}
		j.lock = nil
	}
	if err != nil {
		return fmt.Errorf("close journal %s: %w", j.path, err)
	}
	return nil
}

// Read returns the records of the journal at path without taking its lock
// or changing the file, for reading a journal that a run may be writing
// (offboard report, finding an interrupted run). A torn last line is
// skipped, as Open would drop it.
func Read(path string) ([]Record, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("read journal: %s is larger than %d MiB, far more than an offboard journal grows to (they are compacted): not read", path, MaxSize>>20)
	}
	records, _, err := parse(path, data)
	return records, err
}

package journal

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// KindHistory is a compacted journal's first record: what its earlier
// runs did to each user (Users), all a later run needs of them.
const KindHistory = "history"

// CompactAfter is how many runs a journal holds before Compact rewrites
// it: a cron job that appends a run every night would otherwise read a
// year of them at every start.
const CompactAfter = 10

// Runs counts the start records of records that began a run (not those
// that resumed one).
func Runs(records []Record) int {
	n := 0
	for i := range records {
		if records[i].Kind == KindStart && !records[i].Resumed {
			n++
		}
	}
	return n
}

// Compact rewrites the journal as one history record holding st.Users,
// what its runs did to each user (the jobs each saw start and end, the
// submissions still in doubt, the latest outcome), followed by start, the
// record of the run that compacts it: a journal is never a history alone,
// which a crash there would leave without its org or its run. It refuses a
// journal whose latest run is unfinished: that run's rows are needed to
// resume it. The new file replaces the old one at once (written beside it,
// flushed, renamed over it), under the journal's lock, so a crash leaves
// one or the other.
func (j *Journal) Compact(st State, start Record) error {
	if st.Unfinished() {
		return fmt.Errorf("compact journal %s: its latest run is unfinished", j.path)
	}
	now := time.Now()
	if start.Time.IsZero() {
		start.Time = now
	}
	var b []byte
	for _, rec := range []Record{{Kind: KindHistory, Time: now, Users: st.Users}, start} {
		line, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("compact journal %s: %w", j.path, err)
		}
		b = append(append(b, line...), '\n')
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil || j.broken != nil {
		return fmt.Errorf("compact journal %s: it is closed or broken", j.path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(j.path), filepath.Base(j.path)+".compact-*")
	if err != nil {
		return fmt.Errorf("compact journal %s: %w", j.path, err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("compact journal %s: %w", j.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("compact journal %s: %w", j.path, err)
	}
	// Closed before the rename: Windows renames over no open file.
	tmp.Close()
	j.f.Close()
	j.f = nil
	rerr := os.Rename(tmp.Name(), j.path)
	f, err := os.OpenFile(j.path, os.O_RDWR|noFollow, 0o600)
	if err != nil {
		j.broken = err
		return fmt.Errorf("compact journal %s: reopen: %w", j.path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		j.broken = err
		return fmt.Errorf("compact journal %s: %w", j.path, err)
	}
	j.f = f
	if rerr != nil {
		return fmt.Errorf("compact journal %s: %w", j.path, rerr)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return fmt.Errorf("compact journal %s: %w", j.path, err)
	}
	return nil
}

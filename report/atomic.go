package report

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tempFile is a file written under a temporary name in its final directory
// (a rename is atomic only within one file system) and renamed onto its path
// once complete.
type tempFile struct {
	*os.File
	path string // where it goes
	done bool   // renamed or removed
}

// createTemp creates the temporary file for path: hidden, ending in .tmp,
// readable and writable by its owner only (0600), whatever the umask. The
// workbooks offboard writes name people (emails, names, who leaves): like
// the journal, they are no one else's to read unless the owner shares them.
func createTemp(path string) (*tempFile, error) {
	dir, base := filepath.Split(path)
	for range 10 {
		name := filepath.Join(dir, "."+base+"."+rand.Text()[:10]+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &tempFile{File: f, path: path}, nil
	}
	return nil, fmt.Errorf("no free temporary name for %s", base)
}

// finish flushes the file to disk and closes it.
func (t *tempFile) finish() error {
	if err := t.Sync(); err != nil {
		return err
	}
	return t.File.Close()
}

// commit renames the finished file onto its path.
func (t *tempFile) commit() error {
	if err := os.Rename(t.Name(), t.path); err != nil {
		return err
	}
	t.done = true
	// The rename itself is durable only once the directory is synced; a
	// file system that cannot sync a directory still renamed atomically.
	if d, err := os.Open(filepath.Dir(t.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// remove closes and deletes the temporary file, unless it was committed.
func (t *tempFile) remove() {
	if t == nil || t.done {
		return
	}
	t.done = true
	_ = t.File.Close() // may already be closed
	_ = os.Remove(t.Name())
}

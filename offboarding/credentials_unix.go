//go:build unix

package offboarding

import (
	"fmt"
	"io/fs"
)

// checkPrivate refuses a credentials file that others can read.
func checkPrivate(path string, info fs.FileInfo) error {
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("credentials file %s can be read by others (mode %04o): run chmod 600 %s", path, mode, path)
	}
	return nil
}

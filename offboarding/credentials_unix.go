//go:build unix

package offboarding

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a credentials file that others can read, or that
// another user owns: whoever owns it can change what it says (its secrets,
// where they are sent) or let others read it.
func checkPrivate(path string, info fs.FileInfo) error {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("credentials file %s belongs to another user (uid %d; you are uid %d): offboard reads only your own; write your own with offboard auth --save", path, st.Uid, os.Getuid())
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("credentials file %s can be read by others (mode %04o): run chmod 600 %s", path, mode, path)
	}
	return nil
}

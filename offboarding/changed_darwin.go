package offboarding

import (
	"os"
	"syscall"
	"time"
)

// changed is when a file last changed: the later of its modification
// time and its status change time, which no copy tool can set back (cp
// -p, rsync -a and unpacked archives keep an old modification time).
func changed(fi os.FileInfo) time.Time {
	t := fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if c := time.Unix(st.Ctimespec.Sec, st.Ctimespec.Nsec); c.After(t) {
			t = c
		}
	}
	return t
}

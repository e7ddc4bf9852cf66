//go:build !linux && !darwin

package offboarding

import (
	"os"
	"time"
)

// changed is when a file last changed: its modification time (Windows
// keeps no status change time that a copy resets).
func changed(fi os.FileInfo) time.Time { return fi.ModTime() }

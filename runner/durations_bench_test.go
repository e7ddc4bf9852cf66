package runner

import (
	"testing"
	"time"
)

// BenchmarkFirstPoll is the runner's per-job scheduling arithmetic once the
// window of job lengths is full, spread (the slower case: a median).
func BenchmarkFirstPoll(b *testing.B) {
	d := newDurations(0, time.Second/4, 10*time.Minute)
	for i := range keepJobs {
		d.observe(time.Duration(i%7)*time.Second, time.Duration(i%7+2)*time.Second)
	}
	for b.Loop() {
		d.firstPoll()
	}
}

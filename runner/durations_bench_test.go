package runner

import (
	"testing"
	"time"
)

// BenchmarkFirstPoll is the runner's per-job scheduling arithmetic once the
// window of job durations is full: every poll sorts a copy of the 64
// samples to take their median.
func BenchmarkFirstPoll(b *testing.B) {
	d := &durations{initial: 5 * time.Second, min: time.Second, max: time.Minute}
	for i := range keepSamples {
		d.observe(time.Duration(i)*time.Second, time.Duration(i+2)*time.Second)
	}
	for b.Loop() {
		d.firstPoll()
	}
}

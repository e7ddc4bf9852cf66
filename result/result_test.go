package result_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/result"
)

func TestOutcomes(t *testing.T) {
	var retry, done []result.Outcome
	for _, o := range result.Outcomes() {
		if !o.Known() {
			t.Errorf("%q.Known() = false", o)
		}
		if o.NeedsRetry() {
			retry = append(retry, o)
		}
		if o.Done() {
			done = append(done, o)
		}
	}
	if want := []result.Outcome{result.Failed, result.Invalid, result.NotRun}; !cmp.Equal(retry, want) {
		t.Errorf("outcomes that NeedsRetry = %q, want %q (the Retry sheet's rows)", retry, want)
	}
	if want := []result.Outcome{result.Deleted, result.Skipped, result.Deferred}; !cmp.Equal(done, want) {
		t.Errorf("outcomes Done = %q, want %q (exit status 0)", done, want)
	}
	if result.Outcome("done").Known() {
		t.Error(`Outcome("done").Known() = true`)
	}
}

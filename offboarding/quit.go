package offboarding

import (
	"context"
	"sync"

	"github.com/rs/zerolog"
)

// Quit says what a process that ends at once (a second Ctrl-C) leaves
// behind. The command line puts one in the command's context
// (WithQuit); a run that has begun to submit fills it in, and the signal
// handler calls Say before the process ends.
type Quit struct {
	mu  sync.Mutex
	say func()
}

type quitKey struct{}

// WithQuit returns ctx carrying q.
func WithQuit(ctx context.Context, q *Quit) context.Context {
	return context.WithValue(ctx, quitKey{}, q)
}

// quitFrom returns the Quit ctx carries; nil if none.
func quitFrom(ctx context.Context) *Quit {
	q, _ := ctx.Value(quitKey{}).(*Quit)
	return q
}

// set makes say what Say does; q may be nil.
func (q *Quit) set(say func()) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.say = say
	q.mu.Unlock()
}

// Say logs, in the run's log format, what quitting now leaves behind, and
// reports whether there was a run to speak of: false means that nothing
// was submitted, and the caller says so.
func (q *Quit) Say() bool {
	q.mu.Lock()
	say := q.say
	q.mu.Unlock()
	if say == nil {
		return false
	}
	say()
	return true
}

// sayQuitting logs what a run quitting at once leaves: the jobs that may
// still be running at Zoho, which its journal records so that the same
// command follows them and finishes the run; a sandbox run ends with its
// org, and cannot be resumed.
func sayQuitting(log zerolog.Logger, journalPath string, sandbox bool, jobs int) {
	ev := log.Error().Int("jobs_running", jobs).Str("journal", journalPath)
	switch {
	case sandbox:
		ev.Msg("quitting now, without writing the results: the sandbox org ends with offboard, so this run cannot be resumed; a later --sandbox run starts afresh against a new sandbox")
	case jobs == 0:
		ev.Msgf("quitting now, without writing the results: no job of this run is running at Zoho; the journal %s records the run: run the same command again to finish it", journalPath)
	case jobs == 1:
		ev.Msgf("quitting now, without writing the results: 1 job may still be running at Zoho; the journal %s records it: run the same command again to follow it and finish", journalPath)
	default:
		ev.Msgf("quitting now, without writing the results: %d jobs may still be running at Zoho; the journal %s records them: run the same command again to follow them and finish", jobs, journalPath)
	}
}

package offboarding

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"offboard/result"
)

// progress follows a run's rows as the runner reports them and shows how
// far it is: a bar redrawn in place on a terminal, a log line now and
// then otherwise (cron).
type progress struct {
	mu      sync.Mutex
	total   int // rows the runner runs
	rows    map[int]result.Row
	final   map[int]bool
	start   time.Time
	now     func() time.Time
	out     io.Writer // the terminal, or nil
	drawn   bool      // a bar is on the screen
	stopped chan struct{}
	done    chan struct{}
}

func newProgress(total int, now func() time.Time) *progress {
	return &progress{total: total, rows: map[int]result.Row{}, final: map[int]bool{}, start: now(), now: now,
		stopped: make(chan struct{}), done: make(chan struct{})}
}

// onChange records a row's result as the runner reports it.
func (p *progress) onChange(i int, r result.Row, final bool) {
	p.mu.Lock()
	p.rows[i], p.final[i] = r, final
	p.mu.Unlock()
}

// counts returns the rows finished, the jobs running and the outcomes so
// far; p.mu must be held. A row with its final result is finished (one
// left submitted too: --no-wait, --job-timeout, a stop), and so is a row
// whose job completed: only its user's read-back is left, which waits to
// share one call with others (confirming counts them).
func (p *progress) counts() (finished, running, confirming int, by map[result.Outcome]int) {
	by = map[result.Outcome]int{}
	for i, r := range p.rows {
		switch {
		case p.final[i] || r.Outcome == result.Deleted || r.Outcome == result.Failed || r.Outcome == result.NotRun:
			finished++
			by[r.Outcome]++
		case r.Outcome == result.Submitted && r.JobStatus == "completed":
			finished++
			confirming++
		case r.Outcome == result.Submitted:
			running++
		}
	}
	return finished, running, confirming, by
}

// line describes the progress in one line.
func (p *progress) line(bar bool) string {
	finished, running, confirming, by := p.counts()
	var b strings.Builder
	if bar {
		const width = 24
		filled := 0
		if p.total > 0 {
			filled = finished * width / p.total
		}
		b.WriteString("[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "] ")
	}
	fmt.Fprintf(&b, "%d/%d rows done", finished, p.total)
	for _, o := range []result.Outcome{result.Deleted, result.Failed, result.NotRun, result.Submitted} {
		if by[o] > 0 {
			fmt.Fprintf(&b, ", %d %s", by[o], o)
		}
	}
	if confirming > 0 {
		fmt.Fprintf(&b, ", %s completed, users read back soon", jobs(confirming))
	}
	fmt.Fprintf(&b, "; %s running", jobs(running))
	if eta := p.eta(finished); eta >= time.Second {
		fmt.Fprintf(&b, "; about %s left", eta.Round(time.Second))
	}
	return b.String()
}

// eta extrapolates the time left from the pace so far.
func (p *progress) eta(finished int) time.Duration {
	if finished == 0 || finished >= p.total {
		return 0
	}
	elapsed := p.now().Sub(p.start)
	return time.Duration(float64(elapsed) / float64(finished) * float64(p.total-finished))
}

// showBar redraws the bar on w every tick until stop.
func (p *progress) showBar(w io.Writer, tick time.Duration) {
	p.mu.Lock()
	p.out = w
	p.mu.Unlock()
	go p.loop(tick, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.redrawLocked()
	})
}

// logEvery writes a progress log line every interval until stop.
func (p *progress) logEvery(log zerolog.Logger, interval time.Duration) {
	go p.loop(interval, func() {
		p.mu.Lock()
		finished, running, confirming, by := p.counts()
		p.mu.Unlock()
		ev := log.Info().Int("rows_done", finished).Int("rows", p.total).Int("jobs_running", running)
		for o, n := range by {
			ev = ev.Int(string(o), n)
		}
		if confirming > 0 {
			ev = ev.Int("users_to_read_back", confirming)
		}
		ev.Msg("progress")
	})
}

func (p *progress) loop(every time.Duration, f func()) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			f()
		case <-p.stopped:
			return
		}
	}
}

func (p *progress) redrawLocked() {
	if p.out == nil {
		return
	}
	fmt.Fprint(p.out, "\r\033[K"+p.line(true))
	p.drawn = true
}

func (p *progress) clearLocked() {
	if p.drawn {
		fmt.Fprint(p.out, "\r\033[K")
		p.drawn = false
	}
}

// stop ends the display and clears the bar.
func (p *progress) stop() {
	close(p.stopped)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.out = nil
}

// around wraps the terminal's log writer so that a log line never lands
// in the middle of the bar: the bar is cleared, the line written, the bar
// drawn again.
type around struct {
	p *progress
	w io.Writer
}

func (a around) Write(b []byte) (int, error) {
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	a.p.clearLocked()
	n, err := a.w.Write(b)
	if a.p.out != nil {
		a.p.redrawLocked()
	}
	return n, err
}

// jobs is "1 job" or "n jobs".
func jobs(n int) string {
	if n == 1 {
		return "1 job"
	}
	return fmt.Sprintf("%d jobs", n)
}

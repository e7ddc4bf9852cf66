package runner

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// durations learns how long jobs take from the jobs of this run that
// finished, so that a job is polled about when it is done: one poll for
// most jobs, soon after the job ended.
//
// Each finished job brackets its own length: it was seen unfinished at lo
// (0 if never) and finished at hi, both since its submission. While the
// latest jobs' brackets agree (the longest lo is shorter than the
// shortest hi: jobs alike), they bracket the length of the next job, and
// a new job's first poll splits that bracket (bisection: whatever the
// poll finds narrows it) until it is tight, then comes at its top, where
// a job alike is done. When they disagree (lengths spread), the first
// poll comes at the median length, and the next ones a fixed share of the
// job's age apart.
//
// Before any job has finished, nothing is known (the first guess, if
// any, came from an earlier run's journal): the runner then polls one job
// on a geometric schedule from PollMin (see probeGrowth) and holds the
// others' polls until a job has ended.
type durations struct {
	min, max time.Duration

	mu     sync.Mutex
	recent []bracket // the latest finished jobs, at most keepJobs
	// guessed is set when the run began with a first guess, an earlier
	// run's: what its jobs took, taken as jobs alike. One job of this run
	// alone is not (see alike). (Once the guess has left recent, twenty
	// jobs of this run are known.)
	guessed bool
	// testing is set while a job polled first inside the bracket (to
	// split it) has not been seen to end: jobs submitted meanwhile are
	// polled at its top, so that one job, not a whole wave, pays for the
	// test.
	testing bool
	// floor and ceil bracket jobs alike beyond the recent ones: floor is
	// the longest age at which a job alike was seen unfinished below the
	// recent jobs' top (a test found jobs no shorter), and ceil the
	// shortest age at which one was seen done since. Both are kept for
	// floorLeft jobs from that test, also once the jobs that said them
	// are no longer recent: jobs done at their first poll, just past the
	// top, say nothing new (and would raise the top a little each time),
	// and a test below costs a poll, and a step sent ahead refused, or
	// more. quiet is how many jobs the last test kept them: each test
	// that finds jobs no shorter once floor and ceil lapsed keeps them
	// for twice as many (keepJobs the first time, then up to maxQuiet),
	// and a test that finds them shorter, or a job that ends well outside
	// them (lengths changed), starts again from keepJobs.
	floor, ceil time.Duration
	floorLeft   int
	quiet       int
	// running are the ages at which polls last found the run's jobs,
	// still running, unfinished, longest first (run.runningPolled). Two
	// jobs running past noise × the top of the recent jobs' bracket are
	// not like them: the lengths spread, as their brackets will show once
	// they end (see shape). Learnt now, the polls of the first wave are
	// not timed meanwhile for jobs alike, each just past a top that most
	// of them are far past. Once keepJobs jobs have ended it takes
	// runningQuorum of them: two jobs running long among keepJobs alike
	// are odd ones (stuck, say), which would otherwise pace the run for as
	// long as they run, while lengths that grew as the sheet went on keep
	// most of the run's jobs running past the top.
	running []time.Duration
	// spreadNow is whether the recent jobs disagree on their length (see
	// shape), as of the latest change: kept without the lock, since
	// run.pokePace asks it on every change of the run's state.
	spreadNow atomic.Bool
}

// bracket is what one poll schedule learnt of one job's length.
type bracket struct{ lo, hi time.Duration }

const (
	// keepJobs is how many of the latest jobs the estimate looks at:
	// enough for a median, few enough to follow lengths that change as
	// the sheet goes on.
	keepJobs = 20
	// tight is how far the top of the bracket may be above its bottom
	// before a first poll is placed at the top rather than splitting it.
	// (4 % was tried: no steadier for half-second jobs, and more steps
	// sent ahead refused for longer ones; BENCHMARKS.md §0.)
	tight = 1.08
	// probeGrowth is how much longer each poll of the probe job waits
	// than the job's age at the poll before: from PollMin, a 0.5 s job is
	// found at the second poll and a 30 min one at about the 22nd.
	probeGrowth = 1.5
	// spreadGrowth is the same for a job past its first poll when lengths
	// are spread: it bounds the time a finished job waits to be seen to
	// under half its length, in a few polls.
	spreadGrowth = 1.4
	// noise is how far apart two jobs' brackets may disagree and still be
	// taken as jobs alike: ages are measured from the answers, whose
	// latency varies.
	noise = 1.1
	// below is where one job looks when every recent job was done at its
	// first poll: a little below the shortest, to learn whether jobs got
	// shorter, at the price of one poll more if they did not.
	below = 0.9
	// margin is how far past the top of a tight bracket a job alike is
	// polled, so that a little noise does not make the poll miss.
	margin = 1.03
	// maxQuiet is the most jobs a floor is kept (see durations.floor):
	// jobs that got shorter are found within about that many. (80 was
	// tried: half the tests again, but jobs found shorter only after 80
	// or more, their slots idle meanwhile.)
	maxQuiet = 2 * keepJobs
)

// newDurations returns durations whose first guess is guess (0: none).
// A guess from an earlier run's journal is taken as a loose bracket
// around it, to be narrowed by this run's jobs.
func newDurations(guess, pollMin, pollMax time.Duration) *durations {
	d := &durations{min: pollMin, max: pollMax, quiet: keepJobs / 2}
	if guess > 0 {
		d.recent = append(d.recent, bracket{lo: guess * 2 / 3, hi: guess * 3 / 2})
		d.guessed = true
	}
	return d
}

// known reports whether anything is known of the jobs' lengths.
func (d *durations) known() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.recent) > 0
}

// observe records that a job was unfinished at lo (0 if never seen so)
// and finished by hi, both since its submission.
func (d *durations) observe(lo, hi time.Duration) {
	if hi <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.testing = false
	lo = min(lo, hi)
	bottom, top, alike := d.bounds()
	switch {
	case d.floorLeft > 0 && (noise*float64(hi) < float64(d.floor) || float64(lo) > noise*float64(d.ceil)):
		// A job well outside floor and ceil: lengths changed. The recent
		// jobs alone say how long jobs take, and tests come as often as
		// at the start.
		d.floor, d.ceil, d.floorLeft, d.quiet = 0, 0, 0, keepJobs/2
	case alike && bottom == 0 && lo == 0 && hi < top:
		// A job alike done below the top while nothing bounded it from
		// below (a test found jobs shorter): tests come as often as at
		// the start.
		d.quiet = keepJobs / 2
	case alike && lo > 0 && lo < top:
		// A job alike unfinished below the top: jobs are no shorter.
		if d.floorLeft == 0 {
			d.quiet = min(2*d.quiet, maxQuiet)
			d.ceil = top
		}
		d.floor, d.ceil, d.floorLeft = max(d.floor, lo), min(d.ceil, hi), d.quiet
	case d.floorLeft > 0:
		d.ceil = min(d.ceil, hi)
		if d.floorLeft--; d.floorLeft == 0 {
			d.floor, d.ceil = 0, 0
		}
	}
	d.recent = append(d.recent, bracket{lo: lo, hi: hi})
	if len(d.recent) > keepJobs {
		d.recent = d.recent[len(d.recent)-keepJobs:]
	}
	_, _, alike = d.shape()
	d.spreadNow.Store(!alike)
}

// runningQuorum is how many of the run's jobs running past the top say
// the lengths spread once keepJobs jobs have ended: half of Zoho's ten.
const runningQuorum = 5

// runningFor records the ages at which polls last found the run's
// running jobs unfinished, longest first, and reports whether the lengths
// are now found to spread, as they were not before.
func (d *durations) runningFor(ages []time.Duration) (spreadNow bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = ages
	_, _, alike := d.shape()
	spread := len(d.recent) > 0 && !alike
	was := d.spreadNow.Swap(spread)
	return spread && !was
}

// bounds returns the longest lo and the shortest hi of the recent jobs
// (floor and ceil, while kept, count among them); alike reports that
// they agree, within noise.
func (d *durations) bounds() (lo, hi time.Duration, alike bool) {
	hi = time.Duration(math.MaxInt64)
	for _, b := range d.recent {
		lo, hi = max(lo, b.lo), min(hi, b.hi)
	}
	if d.floorLeft > 0 {
		lo, hi = max(lo, d.floor), min(hi, d.ceil)
	}
	return lo, hi, float64(lo) < noise*float64(hi)
}

// shape is bounds, but for alike, which is false also while two jobs run
// past noise × the recent jobs' top (runningQuorum once keepJobs jobs
// have ended; see running).
func (d *durations) shape() (lo, hi time.Duration, alike bool) {
	lo, hi, alike = d.bounds()
	k := 2
	if len(d.recent) >= keepJobs {
		k = runningQuorum
	}
	return lo, hi, alike && (len(d.running) < k || float64(d.running[k-1]) < noise*float64(hi))
}

// alike reports whether the latest finished jobs agree on their length
// (see bounds); false while nothing is known, and while one job of this
// run is all that is known: the first job to end, whose length says
// nothing of how alike the others are. (Taken as alike, it had the rest
// of the first wave polled one by one and steps sent ahead of them at
// once: of twenty jobs spread around 30 min, nine polls and eight
// steps refused, where one sweep looks at them all; BENCHMARKS.md §0.)
func (d *durations) alike() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.recent) == 0 || len(d.recent) == 1 && !d.guessed {
		return false
	}
	_, _, alike := d.shape()
	return alike
}

// spread reports whether the latest finished jobs disagree on their
// length; false while nothing is known.
func (d *durations) spread() bool { return d.spreadNow.Load() }

// fits reports whether spreadModel has lengths to fit: they spread, and
// two are known (with one known and two jobs seen running past it, they
// spread, but there is nothing to fit).
func (d *durations) fits() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fitsLocked()
}

func (d *durations) fitsLocked() bool {
	_, _, alike := d.shape()
	return len(d.recent) >= 2 && !alike
}

// spreadModel fits a log-normal to the recent jobs' lengths (each the
// middle of its bracket, as for the median) and to those of the jobs
// still running, each known only to be longer than running[i]: early in
// a run, the long jobs are the ones not ended yet, and the finished ones
// alone would say jobs are shorter than they are. ok is false unless the
// lengths spread and two of them are known (see fits).
func (d *durations) spreadModel(running []time.Duration) (m lengths, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.fitsLocked() {
		return m, false
	}
	var sum, sq float64
	for _, b := range d.recent {
		l := math.Log(float64(b.middle()))
		sum += l
		sq += l * l
	}
	n := float64(len(d.recent))
	m = fitted(sum, sq, n)
	// A few rounds of expectation-maximisation: each running job counts
	// as the mean (and square) of a length past its age, under the last
	// round's fit.
	for range 5 {
		s, q, k := sum, sq, n
		for _, a := range running {
			if a <= 0 {
				continue
			}
			c := math.Log(float64(a))
			alpha := (c - m.mu) / m.sigma
			tail := 0.5 * math.Erfc(alpha/math.Sqrt2)
			if tail < 1e-12 {
				continue // far past every length: it says nothing more
			}
			lambda := math.Exp(-alpha*alpha/2) / math.Sqrt(2*math.Pi) / tail
			s += m.mu + m.sigma*lambda
			q += m.mu*m.mu + m.sigma*m.sigma + m.sigma*lambda*(c+m.mu)
			k++
		}
		m = fitted(s, q, k)
	}
	return m, true
}

// fitted is the log-normal whose ln L has the mean of n lengths' logs
// (sum, and sq the sum of their squares), and their variance drawn
// towards priorSigma² as if priorJobs more lengths had that spread: a
// few lengths that happen to agree say little of how the others spread.
// (With only a floor of 0.01 on the variance, two short jobs ended and
// eight running just past them were fitted as jobs all about to end, the
// fit moving on with the running jobs' ages: a step went ahead every 7 %
// of their age, and Zoho refused nine in a row in a traced run of twenty;
// once they ran far past the fit, it ignored them, and nothing went ahead
// for PollMax. BENCHMARKS.md §0.)
func fitted(sum, sq, n float64) lengths {
	mu := sum / n
	v := (max(sq-n*mu*mu, 0) + priorJobs*priorSigma*priorSigma) / (n + priorJobs)
	return lengths{mu: mu, sigma: math.Sqrt(v)}
}

const (
	// priorSigma is the spread of ln L taken before any length is known:
	// the widest the runner is built for, where nineteen jobs in twenty
	// take between a seventh of the median and seven times it.
	priorSigma = 1.0
	// priorJobs is how many lengths priorSigma weighs as.
	priorJobs = 2.0
)

// median is the median of the recent jobs' lengths, each the middle of
// its bracket.
func (d *durations) median() time.Duration {
	v := make([]time.Duration, 0, len(d.recent))
	for _, b := range d.recent {
		v = append(v, b.middle())
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// middle is where in its bracket a job's length is taken to be: the
// geometric middle (lengths spread by factors), or, for a job found
// finished at its first poll, a third below that poll.
func (b bracket) middle() time.Duration {
	if b.lo > 0 {
		return time.Duration(math.Sqrt(float64(b.lo) * float64(b.hi)))
	}
	return max(b.hi*2/3, 1)
}

// firstPoll is how long after its submission a new job is polled first;
// 0 when nothing is known (the job waits for the probe, or is the probe,
// which probeFirst times).
func (d *durations) firstPoll() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.recent) == 0 {
		return 0
	}
	lo, hi, alike := d.shape()
	var t time.Duration
	switch {
	case !alike:
		t = d.median()
	case lo == 0 && !d.testing:
		// Every recent job was done at its first poll: how much shorter
		// they are is not known. One job looks a little below.
		t = time.Duration(below * float64(hi))
		d.testing = true
	case float64(hi) <= tight*float64(lo) || d.testing:
		t = pastTop(lo, hi)
	default:
		t = time.Duration(math.Sqrt(float64(lo) * float64(hi)))
		d.testing = true
	}
	return max(t, d.min)
}

// doneBy is how long after its submission a job alike to the recent ones
// is done, by what they bracket: just past its top; 0 while lengths spread
// or nothing is known.
func (d *durations) doneBy() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.recent) == 0 {
		return 0
	}
	lo, hi, alike := d.shape()
	if !alike {
		return 0
	}
	return max(pastTop(lo, hi), d.min)
}

// pastTop is where a job alike is done by what the recent jobs bracket,
// (lo, hi]: a margin past its top.
func pastTop(lo, hi time.Duration) time.Duration {
	return time.Duration(margin * float64(max(hi, lo)))
}

// probeFirst is when the probe job, polled while nothing is known, is
// polled first.
func (d *durations) probeFirst() time.Duration { return d.min }

// nextPoll is the wait after a poll that found a job unfinished at age
// (since its submission). While nothing is known, the probe's polls grow
// by probeGrowth. While jobs are alike, the next poll comes at the top of
// their bracket, where a job like them is done; a job past that top is
// not like them, and its polls grow by spreadGrowth, as when lengths are
// spread.
func (d *durations) nextPoll(age time.Duration) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	growth := spreadGrowth
	if len(d.recent) == 0 {
		growth = probeGrowth
	} else if lo, hi, alike := d.shape(); alike {
		top := max(hi, lo)
		if top > age {
			return max(pastTop(lo, hi)-age, d.min)
		}
		// Past the top of jobs alike: most likely a little late, so the
		// next look doubles how far past it the job is (from the margin),
		// and grows as when lengths spread only once that is further. It
		// may come sooner than PollMin: the job is due, and a slot is
		// idle until it is seen ended (a quarter-second wait was half a
		// half-second job).
		over := max(age-top, time.Duration((margin-1)*float64(top)))
		wait := min(over, time.Duration(float64(age)*(growth-1)))
		return min(max(wait, d.min/5), d.max)
	}
	wait := time.Duration(float64(age) * (growth - 1))
	return min(max(wait, d.min), d.max)
}

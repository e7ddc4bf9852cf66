package offboarding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"offboard/journal"
	"offboard/plan"
	"offboard/result"
	"offboard/runner"
	"offboard/zoho"
)

// openJournal takes the journal's lock and reads what it holds. created
// reports that the file did not exist before, so that a run that ends up
// sending nothing can remove it again.
func openJournal(log zerolog.Logger, path string, now time.Time) (j *journal.Journal, st journal.State, runs int, created bool, err error) {
	_, statErr := os.Stat(path)
	created = errors.Is(statErr, os.ErrNotExist)
	host, _ := os.Hostname()
	j, records, err := journal.Open(path, journal.Owner{PID: os.Getpid(), Host: host, Started: now})
	if err != nil {
		return nil, st, 0, false, err
	}
	if o := j.StaleLock(); o != nil {
		ev := log.Warn().Str("journal", path)
		if o.PID != 0 {
			ev = ev.Int("pid", o.PID).Str("host", o.Host).Time("since", o.Started)
		}
		ev.Msg("took over the journal's lock from a process that is gone")
	}
	return j, journal.Replay(records), journal.Runs(records), created, nil
}

// findInterrupted looks in dir for the journal of an interrupted run of
// the sheet sh (the same content, sheet and rows) that wrote its results
// under the default name (offboard-results-*), so that running the same
// command again without --output resumes it. It returns the newest such
// journal's path, or "".
func findInterrupted(log zerolog.Logger, dir string, sh *sheet) string {
	paths, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.journal"))
	best, bestAt := "", time.Time{}
	for _, path := range paths {
		if err := journal.Trusted(path); err != nil {
			// Planted by someone else where a cron run looks: what it
			// says happened must not become this run's results.
			log.Warn().Err(err).Str("journal", path).Msg("passed over: not a journal of this user's to resume")
			continue
		}
		records, err := journal.Read(path)
		if err != nil {
			log.Debug().Err(err).Str("journal", path).Msg("not a journal to resume")
			continue
		}
		st := journal.Replay(records)
		if !st.Unfinished() || st.Start.Sandbox || journal.CheckInput(path, st, sh.path, sh.SHA256, sh.Name, sh.identity()) != nil ||
			samePlan(path, st.Start.Plan, sh) != nil {
			continue
		}
		if best == "" || st.Began.After(bestAt) {
			best, bestAt = path, st.Began
		}
	}
	return best
}

// userRecord is what a journal knows of a user, and which journal: "" for
// the run's own.
type userRecord struct {
	*journal.UserState
	journal string
	// mtime is the journal file's modification time when it was read: on
	// the file system's clock, every record in it was written by then.
	mtime time.Time
}

// elsewhere reads the other journals in dir (*.journal) of runs against
// p's org for what they know of each user (see standing). A run that
// writes its own, new journal (another sheet, --fresh, no --output) must
// still not send a user again while a job another journal left running
// may run, and must know when a later run settled it.
//
// A journal held by a live run is a run that may submit any user at any
// moment: elsewhere refuses to go on beside it (*BusyError), unless the
// run has written its start record, and that names another org or the
// sandbox. It is called once the run's own journal is locked, so of two
// runs starting together the later to look sees the other. A journal that
// cannot be read is refused too (*UnreadableError): it may hold a job left
// running. A file that is not an offboard journal is passed over.
func elsewhere(log zerolog.Logger, dir, self string, p *prepared, clock fsClock) (map[string][]userRecord, error) {
	journals, _ := filepath.Glob(filepath.Join(dir, "*.journal"))
	locks, _ := filepath.Glob(filepath.Join(dir, "*.journal.lock"))
	for _, l := range locks {
		// A run that has taken its lock but not yet created its journal.
		if j := strings.TrimSuffix(l, ".lock"); !slices.Contains(journals, j) {
			journals = append(journals, j)
		}
	}
	out := map[string][]userRecord{}
	for _, path := range journals {
		if path == self || same(path, self) {
			continue
		}
		// Read whoever wrote it, whatever its mode: what another journal
		// says can only make this run more careful (follow a job, watch a
		// user) or name who deleted a user Zoho shows deleted; it never
		// makes a row deleted that Zoho does not show so. Passing one
		// over could send a user whose job still runs.
		records, err := journal.Read(path)
		var corrupt *journal.CorruptError
		if errors.As(err, &corrupt) {
			// What its lines that are whole say can still be read.
			records = wholeRecords(path)
		}
		owner, busy, lerr := journal.InUse(path)
		if lerr != nil {
			return nil, &BusyError{Journal: path, Err: lerr}
		}
		if busy {
			start := latestStart(records)
			if start == nil || start.Owner == nil || !sameOwner(*start.Owner, owner) || !(start.Sandbox || otherOrg(start, p)) {
				return nil, &BusyError{Journal: path, Owner: owner}
			}
			// A run against another org cannot touch this one's users;
			// the journal's earlier runs may have been against this org.
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // a lock file alone, left free
		case err != nil && corrupt == nil:
			return nil, &UnreadableError{Journal: path, Err: err}
		case corrupt == nil && !ours(path, records), corrupt != nil && len(records) == 0 && !ours(path, nil):
			continue // another program's file
		case corrupt != nil:
			// Which org its damaged lines were about cannot be told.
			return nil, &UnreadableError{Journal: path, Err: err}
		}
		st := journal.Replay(records)
		if !mayBeOf(records, p) {
			continue // runs against other orgs, or the sandbox, only
		}
		var mtime time.Time
		if fi, err := os.Stat(path); err == nil {
			mtime = clock.ours(changed(fi))
		}
		for id, us := range st.Users {
			out[id] = append(out[id], userRecord{us, path, mtime})
		}
	}
	return out, nil
}

// fsClock reads the times of files on this host's clock. A file's
// modification time is set by the clock of the host, or of the file
// server, that wrote it, which may be behind or ahead of this one: now is
// this host's time and fsNow the modification time of a file this run
// has just written (its lock) in the same directory.
type fsClock struct{ now, fsNow time.Time }

// ours is file time t on this host's clock; zero when t or the clock is
// unknown.
func (c fsClock) ours(t time.Time) time.Time {
	if t.IsZero() || c.fsNow.IsZero() {
		return time.Time{}
	}
	return c.now.Add(t.Sub(c.fsNow))
}

// wholeRecords reads the lines of a damaged journal that parse as journal
// records: its start records still say which orgs it was about, and any
// record at all says that it is one of offboard's, its start line lost.
func wholeRecords(path string) []journal.Record {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []journal.Record
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		var r journal.Record
		if json.Unmarshal(line, &r) != nil {
			continue
		}
		switch r.Kind {
		case journal.KindStart, journal.KindSubmit, journal.KindAnswer, journal.KindStatus, journal.KindFinal, journal.KindStop, journal.KindEnd, journal.KindHistory:
			out = append(out, r)
		}
	}
	return out
}

// latestStart returns the last start record of records, nil if none.
func latestStart(records []journal.Record) *journal.Record {
	for i := len(records) - 1; i >= 0; i-- {
		if records[i].Kind == journal.KindStart {
			return &records[i]
		}
	}
	return nil
}

// mayBeOf reports whether what records say of users may be about p's
// org: a run whose start record may have been against it, a history
// record (whose runs' orgs it does not keep), or no start record at all.
func mayBeOf(records []journal.Record, p *prepared) bool {
	starts := false
	for i := range records {
		switch r := &records[i]; r.Kind {
		case journal.KindHistory:
			return true
		case journal.KindStart:
			if !r.Sandbox && !otherOrg(r, p) {
				return true
			}
			starts = true
		}
	}
	return !starts
}

// sameOwner reports whether two lock owners are the same run.
func sameOwner(a, b journal.Owner) bool {
	return a.PID == b.PID && a.Host == b.Host && a.Started.Equal(b.Started)
}

// ours reports whether the file at path, which read as records, is an
// offboard journal: it begins with a start record.
func ours(path string, records []journal.Record) bool {
	if len(records) > 0 {
		return records[0].Kind == journal.KindStart || records[0].Kind == journal.KindHistory
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 32)
	n, _ := io.ReadFull(f, head)
	return bytes.HasPrefix(head[:n], []byte(`{"kind":"start"`)) || bytes.HasPrefix(head[:n], []byte(`{"kind":"history"`))
}

// otherOrg reports whether a journal's run was known to be against
// another org than p's. A journal that does not say (written by an older
// offboard) may be this org's: its users are taken into account, which is
// harmless for another org's, since user IDs are not shared between orgs.
func otherOrg(start *journal.Record, p *prepared) bool {
	if start.OrgID == "" {
		return false
	}
	same, _ := sameOrg(start, p)
	return !same
}

// stand is how things stand for one user, by every journal's records.
type stand struct {
	// latest is the latest record by its own clock: what the results say
	// of an earlier run's deletion.
	latest userRecord
	// follow is a job recorded running in a journal and seen to end in
	// none: it is followed, never a second one started. followIn is its
	// journal ("" for the run's own), followAt when it was accepted.
	follow, followIn string
	followAt         time.Time
	// doubt is set for a submission in doubt that no record of its
	// journal settles; doubtSince and doubtWindow time the latest end of
	// any job such submissions may have started, on this host's clock
	// (zero: from now); doubtIn is its journal.
	doubt       bool
	doubtSince  time.Time
	doubtWindow time.Duration
	doubtIn     string
}

// standing is how things stand for a user, from what every journal knows
// (recs). Nothing is decided by comparing clocks of different runs, nor
// by the order the journals are read in:
//   - a job recorded unfinished in any journal and seen to end in none may
//     still run: it is followed (the lowest job ID, if several);
//   - else a submission in doubt in any journal may have started a job:
//     the user is watched until the latest time any such job may end, on
//     this host's clock (see doubtSince);
//   - else the user's deletions are settled.
func standing(recs []userRecord, now time.Time, ownWindow time.Duration) stand {
	var st stand
	ended := map[string]bool{}
	for _, r := range recs {
		for id, e := range r.Jobs {
			ended[id] = ended[id] || e
		}
	}
	var deadline time.Time
	for _, r := range recs {
		if st.latest.UserState == nil || r.Updated.After(st.latest.Updated) {
			st.latest = r
		}
		for _, id := range r.Running() {
			if !ended[id] && (st.follow == "" || id < st.follow) {
				st.follow, st.followIn, st.followAt = id, r.journal, time.Time{}
				if r.JobID == id {
					st.followAt = r.SubmittedAt
				}
			}
		}
		for _, d := range r.Doubts {
			since := doubtSince(d, r.mtime)
			end := doubtEnd(since, d.Window, now, ownWindow)
			if !st.doubt || end.After(deadline) {
				st.doubt, st.doubtSince, st.doubtWindow, st.doubtIn, deadline = true, since, d.Window, r.journal, end
			}
		}
	}
	return st
}

// thisHost is the host name runs record in their journals' start records.
var thisHost, _ = os.Hostname()

// doubtEnd is when any job a submission in doubt sent at since (zero:
// unknown, from now) may have started has ended, as the runner times it:
// the longer of the sender's window and this run's.
func doubtEnd(since time.Time, window time.Duration, now time.Time, ownWindow time.Duration) time.Time {
	if since.IsZero() || since.After(now) {
		since = now
	}
	return since.Add(max(window, ownWindow))
}

// doubtSince is when a submission in doubt was sent, on this host's
// clock: the time its journal recorded, if this host recorded it;
// otherwise the journal file's last change (mtime), which is no earlier
// than the record, read on this host's clock (see fsClock); zero (from
// now) when neither is known. Another host's clock may be behind: trusted, a
// submission whose job still runs would look old enough to send again.
func doubtSince(d journal.Doubt, mtime time.Time) time.Time {
	if d.Host != "" && d.Host == thisHost {
		return d.Since
	}
	return mtime
}

// BusyError says that another run against the same org is going on in the
// directory: two runs at once could each submit a user the other has
// just submitted.
type BusyError struct {
	Journal string
	Owner   journal.Owner
	// Err is set when the journal's lock could not be checked.
	Err error
}

func (e *BusyError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v, so another offboard run may be using it; nothing was sent: if no run of another user is going on in this directory, remove %s", e.Err, e.Journal+".lock")
	}
	who := "another offboard run"
	if e.Owner.PID != 0 {
		who = fmt.Sprintf("another offboard run (pid %d on host %s, since %s)", e.Owner.PID, e.Owner.Host, e.Owner.Started.Format(time.RFC3339))
	}
	msg := fmt.Sprintf("%s is using journal %s, against the same org or one it has not named yet; nothing was sent: wait for it to end, then run again", who, e.Journal)
	if host, _ := os.Hostname(); e.Owner.Host != "" && e.Owner.Host != host {
		// A lock of another host cannot be checked from here.
		msg += fmt.Sprintf(" (if no offboard runs on %s any more, remove %s)", e.Owner.Host, e.Journal+".lock")
	}
	return msg
}

// UnreadableError says that another journal in the directory cannot be
// read: it may hold a job left running that this run would not know of.
type UnreadableError struct {
	Journal string
	Err     error
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("another journal here cannot be read, so any deletion it left under way is unknown; nothing was sent: %v (move the file out of this directory, or run in another one)", e.Err)
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// same reports whether two paths name one file.
func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// resumePlan is what the journal changes in a run's plan.
type resumePlan struct {
	// resume is what the runner must know of steps already submitted.
	resume map[int]runner.Resume
	// settled counts the rows the interrupted run had settled, following
	// the jobs to follow again.
	settled, following int
}

// toSubmit counts the planned steps that will be sent: not those whose
// job is only followed.
func (rp resumePlan) toSubmit(p *plan.Plan) int {
	n := 0
	for _, i := range p.Order {
		if p.Steps[i].Outcome == result.Planned && rp.resume[i].JobID == "" {
			n++
		}
	}
	return n
}

// applyJournal fits the plan, and the rows the run starts from, to what
// the journal knows. With resume, the journal's latest run is this run's
// interrupted first part: the rows it settled keep their results (the
// step is no longer planned, and its row is the journal's), its jobs are
// followed, and its submissions without an answer are watched before
// anything is sent again. With history, what the journal's earlier runs
// did to each user is used: a job still unfinished is followed rather than
// submitted again, and a row skipped as already deleted names the job that
// deleted the user. others is what other journals know of users: of
// the journal's history and theirs, the later record of a user says how
// things stand.
func applyJournal(log zerolog.Logger, p *plan.Plan, rows []result.Row, st journal.State, ownMtime time.Time, ownWindow time.Duration, resume, history bool, others map[string][]userRecord, now time.Time) resumePlan {
	rp := resumePlan{resume: map[int]runner.Resume{}}
	// planned is what the interrupted run planned for row i: who gets
	// what, for the row's message once its job is followed to its end.
	planned := func(i int) string {
		if resume && st.Start != nil && i < len(st.Start.Steps) && st.Start.Steps[i].Outcome == result.Planned {
			return st.Start.Steps[i].Message
		}
		return ""
	}
	follow := func(i int, r runner.Resume) {
		step := &p.Steps[i]
		if step.Outcome != result.Planned {
			// The live org no longer shows the user to delete as it was
			// (the job went on while offboard was not running): follow the
			// job anyway, to learn how it ended.
			userID := ""
			if step.User != nil {
				userID = string(step.User.ID)
			}
			step.Outcome, step.Code, step.Message = result.Planned, "", planned(i)
			step.Request = zoho.TransferRequest{UserID: userID}
			step.After = nil
			p.Order = append(p.Order, i)
			rows[i].Set(result.Planned, "", "")
		}
		rp.resume[i] = r
		rp.following++
	}
	settle := func(i int, row result.Row) {
		// The runner copies a step that is not planned through, and a step
		// waiting for this one sees how it ended.
		if row.Outcome == result.Deleted && row.Message == "" {
			row.Message = planned(i) // an older offboard's record: who got what
		}
		step := &p.Steps[i]
		step.Outcome, step.Code, step.Message = row.Outcome, row.Code, row.Message
		step.After = nil
		rows[i] = row
	}
	var cur stand // what every journal knows of step i's user
	inDoubt := func(i int, rs *journal.RowState) {
		step := &p.Steps[i]
		attempts := rs.Attempts
		switch {
		case step.Outcome == result.Planned && cur.follow != "":
			// A job another run left running, seen to end nowhere: it
			// is followed, as for a row never sent.
			follow(i, runner.Resume{JobID: cur.follow, SubmittedAt: cur.followAt, Attempts: attempts})
		case step.Outcome == result.Planned:
			// The row's own doubt (or its watch of another run's, which
			// left it no time), or another journal's, whichever ends
			// last.
			d := journal.Doubt{Since: rs.DoubtSince, Host: rs.Host, Window: rs.DoubtWindow}
			since, window := doubtSince(d, ownMtime), rs.DoubtWindow
			if cur.doubt && doubtEnd(cur.doubtSince, cur.doubtWindow, now, ownWindow).After(doubtEnd(since, window, now, ownWindow)) {
				since, window = cur.doubtSince, cur.doubtWindow
			}
			rp.resume[i] = runner.Resume{InDoubt: true, Attempts: attempts, DoubtSince: since, DoubtWindow: window}
		case step.Code == plan.CodeAlreadyDeleted:
			row := rows[i]
			row.Set(result.Deleted, runner.CodeReconciled, "the answer to an earlier submission was lost; the user was then found deleted")
			row.Attempts, row.FinishedAt = attempts, now
			settle(i, row)
		default:
			rows[i].Message += " (an earlier submission of this row got no answer, and the user is not deleted)"
			step.Message = rows[i].Message
		}
	}
	for i := range p.Steps {
		step := &p.Steps[i]
		var recs []userRecord
		if step.User != nil {
			id := string(step.User.ID)
			recs = others[id]
			if own := st.Users[id]; history && own != nil {
				recs = append(recs, userRecord{own, "", ownMtime})
			}
		}
		cur = standing(recs, now, ownWindow)
		if resume {
			if rs := st.Rows[i]; rs != nil && applyRow(i, rs, &rp, follow, inDoubt, settle) {
				continue
			}
		}
		if len(recs) == 0 {
			continue
		}
		id := string(step.User.ID)
		us := cur
		switch {
		case step.Outcome == result.Planned && us.follow != "":
			if us.followIn != "" {
				log.Info().Str("journal", us.followIn).Str("user_id", id).Str("job_id", us.follow).
					Msg("another journal here left a job of this user's running: it is followed, not sent again")
			}
			follow(i, runner.Resume{JobID: us.follow, SubmittedAt: us.followAt})
		case step.Outcome == result.Planned && us.doubt:
			// An earlier run lost the answer to its submission and could
			// not find out: watch the user, and send nothing before any
			// job that submission started has ended.
			if us.doubtIn != "" {
				log.Info().Str("journal", us.doubtIn).Str("user_id", id).
					Msg("another journal here holds a submission of this user whose answer was lost: the user is watched, and sent again only once any job it started has ended")
			}
			rp.resume[i] = runner.Resume{InDoubt: true, DoubtSince: us.doubtSince, DoubtWindow: us.doubtWindow}
		case step.Code == plan.CodeAlreadyDeleted && us.latest.JobID != "" && us.latest.Outcome != string(result.Failed):
			settle(i, deletedBy(rows[i], step, us.latest))
		}
	}
	// Steps settled by the journal are no longer the runner's to submit.
	order := p.Order[:0]
	for _, i := range p.Order {
		if p.Steps[i].Outcome == result.Planned {
			order = append(order, i)
		}
	}
	p.Order = order
	return rp
}

// deletedBy is the result of a row skipped because its user is already
// deleted, naming the job an earlier run submitted for that user, and the
// run: whether it saw the job delete the user, and its journal when it is
// not this one.
func deletedBy(row result.Row, step *plan.Step, us userRecord) result.Row {
	when := ""
	if !us.SubmittedAt.IsZero() {
		when = " on " + us.SubmittedAt.UTC().Format(time.RFC3339)
	}
	by := fmt.Sprintf("an earlier run: %s row %d", filepath.Base(us.InputFile), us.Line)
	if us.journal != "" {
		by = fmt.Sprintf("another run: %s row %d, journal %s", filepath.Base(us.InputFile), us.Line, filepath.Base(us.journal))
	}
	what := strings.TrimRight(step.Message, ".")
	if us.Outcome == string(result.Deleted) {
		row.Message = fmt.Sprintf("%s (deleted by job %s, submitted%s by %s)", what, us.JobID, when, by)
		row.JobStatus = zoho.JobCompleted
	} else {
		row.Message = fmt.Sprintf("%s (job %s was submitted for this user%s by %s, which did not see the job end)", what, us.JobID, when, by)
		row.JobStatus = us.JobStatus
	}
	row.JobID, row.SubmittedAt = us.JobID, us.SubmittedAt
	return row
}

// applyRow fits step i to what the interrupted run recorded of it, and
// reports whether it did.
func applyRow(i int, rs *journal.RowState, rp *resumePlan, follow func(int, runner.Resume), inDoubt func(int, *journal.RowState), settle func(int, result.Row)) bool {
	if f := rs.Final; f != nil {
		switch {
		case f.Outcome == result.NotRun:
			return false // never sent: planned afresh
		case f.Outcome == result.Submitted && rs.JobID != "":
			follow(i, runner.Resume{JobID: rs.JobID, SubmittedAt: rs.SubmittedAt, Attempts: rs.Attempts})
		case f.Code == runner.CodeOutcomeUnknown:
			inDoubt(i, rs)
		default:
			settle(i, *f)
			rp.settled++
		}
		return true
	}
	switch {
	case rs.JobID != "":
		follow(i, runner.Resume{JobID: rs.JobID, SubmittedAt: rs.SubmittedAt, Attempts: rs.Attempts})
	case rs.InDoubt:
		inDoubt(i, rs)
	default:
		return false
	}
	return true
}

// jobDuration is the median time the journal's deleted users took from
// their job's acceptance to the row's end, 0 if it knows of none: the
// runner's first guess of a job's length, so that a resumed run polls its
// jobs, and waits before looking again at a user in doubt, as long as
// jobs actually took.
func jobDuration(st journal.State) time.Duration {
	var d []time.Duration
	for _, us := range st.Users {
		if us.Outcome == string(result.Deleted) && !us.SubmittedAt.IsZero() && us.FinishedAt.After(us.SubmittedAt) {
			d = append(d, us.FinishedAt.Sub(us.SubmittedAt))
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// deletedByUs is the users this org's journals recorded a job, or a
// submission whose answer was lost, for: the
// run's own journal's when its history is this org's, and the others'.
func deletedByUs(st journal.State, history bool, others map[string][]userRecord) map[zoho.ID]bool {
	known := map[zoho.ID]bool{}
	if history {
		for id, us := range st.Users {
			// A submission in doubt may have deleted the user too.
			if us.JobID != "" || us.InDoubt || us.Outcome == string(result.Deleted) {
				known[zoho.ID(id)] = true
			}
		}
	}
	for id, recs := range others {
		for _, r := range recs {
			if r.JobID != "" || r.InDoubt || r.Outcome == string(result.Deleted) {
				known[zoho.ID(id)] = true
			}
		}
	}
	return known
}

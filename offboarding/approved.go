package offboarding

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"offboard/approval"
	"offboard/directory"
	"offboard/input"
	"offboard/journal"
	"offboard/plan"
	"offboard/report"
	"offboard/result"
	"offboard/zoho"
)

// CodeNotApproved is the code of a planned row that offboard run --plan
// does not run because the plan workbook does not approve it.
const CodeNotApproved = "NOT_APPROVED"

// DefaultPlanMaxAge is how old a plan offboard run --plan runs can be.
const DefaultPlanMaxAge = 7 * 24 * time.Hour

// sealOf is the seal of p's plan, made at created: every step, and every
// cell of its Results row.
func sealOf(p *prepared, rows []result.Row, created time.Time, today input.Date) *approval.Seal {
	s := &approval.Seal{
		Version:       approval.Version,
		Created:       created.UTC().Truncate(time.Second),
		InputFile:     filepath.Base(p.sheet.path),
		InputSHA256:   p.sheet.SHA256,
		Sheet:         p.sheet.Name,
		Header:        p.sheet.Header.Names,
		RowsRead:      len(p.sheet.Rows),
		HiddenRows:    p.sheet.HiddenRows,
		IncludeHidden: p.sheet.includeHidden,
		Today:         today.String(),
		OrgID:         p.orgID(),
		OrgName:       p.dir.Org.CompanyName,
		APIDomain:     p.apiDomain,
		Sandbox:       p.conn.sandbox != nil,
		Steps:         make([]approval.Step, len(rows)),
	}
	for i := range rows {
		st := &p.plan.Steps[i]
		a := approval.Step{
			Line: rows[i].Line, Cells: rows[i].Cells,
			Outcome: st.Outcome, Code: st.Code, Message: st.Message,
			User: approval.UserOf(st.User), TransferTo: approval.UserOf(st.TransferTo), SubordinatesTo: approval.UserOf(st.SubordinatesTo),
			Results: report.ResultsCells(p.sheet.Header.Names, rows[i]),
		}
		if d := p.sheet.Rows[i].EffectiveDate; d != nil {
			a.EffectiveDate = d.String()
		}
		if st.Outcome == result.Planned {
			req := st.Request
			a.Request = &req
			for _, j := range st.After {
				a.After = append(a.After, p.plan.Steps[j].Line)
			}
		}
		s.Steps[i] = a
	}
	return s
}

// writeSealedPlan writes the plan workbook that can be approved and run
// with offboard run --plan.
func writeSealedPlan(p *prepared, output, version string, start time.Time, today input.Date) (digest string, err error) {
	rows := p.results()
	seal := sealOf(p, rows, start, today)
	lines, digest, err := seal.Encode()
	if err != nil {
		return "", err
	}
	sum := p.summary("plan", version, start, false, "")
	sum.PlanDigest = digest
	sum.PlanCreated = seal.Created.Format(time.RFC3339)
	w, err := report.CreateSealed(output, p.sheet.Header.Names, &report.Seal{
		Version: approval.Version, Digest: digest, Lines: lines,
	})
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			w.Abort()
			return "", err
		}
	}
	sum.End = time.Now()
	return digest, w.Close(sum)
}

// readApproved reads an approved plan workbook, refuses it if it is older
// than maxAge, and makes of it the sheet a run plans: the input as the
// plan read it, from the seal (the input file need not exist).
func readApproved(log zerolog.Logger, path string, maxAge time.Duration, now time.Time) (*sheet, error) {
	ap, err := approval.Read(path)
	if err != nil {
		return nil, err
	}
	s := ap.Seal
	if s.Created.After(now.Add(time.Minute)) {
		return nil, fmt.Errorf("--plan %s says it was made %s, later than now on this machine's clock: nothing was sent; check the clocks, and make a new plan", path, s.Created.Local().Format(time.DateTime))
	}
	if age := now.Sub(s.Created); age > maxAge {
		return nil, fmt.Errorf("--plan %s was made %s, %s ago, more than --plan-max-age %s: the org may have changed since it was approved; nothing was sent: make a new plan with offboard plan and have it approved",
			path, s.Created.Local().Format(time.DateTime), age.Round(time.Minute), maxAge)
	}
	if len(ap.Ignored) > 0 {
		log.Warn().Ints("lines", ap.Ignored).Msg("rows marked approved that the plan did not plan (invalid, skipped or deferred) do not run")
	}
	lines := make([]int, 0, len(ap.Approved))
	for l := range ap.Approved {
		lines = append(lines, l)
	}
	slices.Sort(lines)
	log.Info().Str("plan", path).Str("digest", ap.Digest).Time("made", s.Created).Str("approved_by", ap.ApprovedBy).
		Ints("approved", lines).Msg("approved plan read: its seal holds and only Approved was edited")
	rows := make([]input.Row, len(s.Steps))
	for i, st := range s.Steps {
		rows[i] = input.Row{Line: st.Line, Cells: st.Cells}
		if st.EffectiveDate != "" {
			d, err := time.Parse(time.DateOnly, st.EffectiveDate)
			if err != nil {
				return nil, fmt.Errorf("--plan %s: row %d's effective_date %q is not a date", path, st.Line, st.EffectiveDate)
			}
			ed := input.DateOf(d)
			rows[i].EffectiveDate = &ed
		}
		if st.Request != nil {
			rows[i].User, rows[i].TransferTo, rows[i].SubordinatesTo = idRef(st.Request.UserID), input.Ref{}, idRef(st.Request.SubordinatesTo)
			if t := st.Request.Transfer; t != nil {
				rows[i].TransferTo = idRef(t.ToID)
				rows[i].Records, rows[i].Assignment, rows[i].Criteria = &t.Records, &t.Assignment, &t.Criteria
			}
		} else if st.User != nil {
			rows[i].User = idRef(st.User.ID)
		}
	}
	sh := &sheet{
		path: s.InputFile,
		Sheet: &input.Sheet{
			Header: input.Header{Names: s.Header}, Rows: rows,
			SHA256: s.InputSHA256, Name: s.Sheet, HiddenRows: s.HiddenRows,
		},
		includeHidden: s.IncludeHidden,
		approved:      ap,
		planPath:      path,
	}
	return sh, nil
}

func idRef(id string) input.Ref {
	if id == "" {
		return input.Ref{}
	}
	return input.Ref{Raw: id, ID: id}
}

// approvedLines are the lines a run of an approved plan runs, in order.
func (s *sheet) approvedLines() []int {
	var out []int
	for _, r := range s.Rows {
		if s.approved.Approved[r.Line] {
			out = append(out, r.Line)
		}
	}
	return out
}

// ChangedError is an approved plan that the org no longer bears out.
type ChangedError struct {
	Path        string
	Differences []string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("the org is no longer as the approved plan %s saw it, so nothing was sent; make a new plan with offboard plan and have it approved:\n  - %s",
		e.Path, strings.Join(e.Differences, "\n  - "))
}

// approvedPlan checks each approved step of the plan against the org as it
// is now, with the checks offboard plan made, and returns the plan to run:
// the approved steps, as planned; every other row as the plan left it,
// and a planned row not approved skipped as NOT_APPROVED. Any step that
// would now be different or invalid makes it a *ChangedError naming every
// difference.
func approvedPlan(sh *sheet, dir directory.Directory, apiDomain string, sandbox bool, today input.Date) (*plan.Plan, error) {
	ap, seal := sh.approved, sh.approved.Seal
	if seal.OrgID != string(dir.Org.ID) || seal.APIDomain != apiDomain || seal.Sandbox != sandbox {
		return nil, &ChangedError{Path: sh.planPath, Differences: []string{fmt.Sprintf("the plan was made against org %s (%s), this is org %s (%s)",
			seal.OrgID, domainName(seal.APIDomain, seal.Sandbox), dir.Org.ID, domainName(apiDomain, sandbox))}}
	}
	var rows []input.Row
	var idx []int // sealed index of each row checked
	for i := range seal.Steps {
		if ap.Approved[seal.Steps[i].Line] {
			rows = append(rows, sh.Rows[i])
			idx = append(idx, i)
		}
	}
	live := plan.Build(rows, dir, today)
	byID := make(map[zoho.ID]*zoho.User, len(dir.Users))
	for i := range dir.Users {
		byID[dir.Users[i].ID] = &dir.Users[i]
	}
	var diffs []string
	for k, lst := range live.Steps {
		sst := &seal.Steps[idx[k]]
		row := fmt.Sprintf("row %d", sst.Line)
		if sh.journaled[sst.Line] {
			continue
		}
		if lst.Outcome != result.Planned {
			diffs = append(diffs, fmt.Sprintf("%s: now %s %s: %s", row, lst.Outcome, lst.Code, lst.Message))
			continue
		}
		moves := sst.Request != nil && sst.Request.SubordinatesTo != ""
		for _, u := range []struct {
			what   string
			sealed *approval.User
			roles  bool
		}{{"user", sst.User, moves}, {"transfer_to", sst.TransferTo, false}, {"move_subordinates_to", sst.SubordinatesTo, moves}} {
			if u.sealed == nil {
				continue
			}
			diffs = append(diffs, userChanges(row, u.what, u.sealed, approval.UserOf(byID[zoho.ID(u.sealed.ID)]), u.roles)...)
		}
		if sst.Request == nil || !reflect.DeepEqual(*sst.Request, lst.Request) {
			diffs = append(diffs, fmt.Sprintf("%s: what would be sent differs from the plan", row))
		}
		var after []int
		for _, j := range lst.After {
			after = append(after, seal.Steps[idx[j]].Line)
		}
		for _, l := range sst.After {
			if !ap.Approved[l] {
				diffs = append(diffs, fmt.Sprintf("%s is approved but row %d is not, and the plan runs row %d first: it moves records or subordinates to the user row %d deletes; approve both rows, or neither", row, l, l, sst.Line))
			}
		}
		want := slices.DeleteFunc(slices.Clone(sst.After), func(l int) bool { return !ap.Approved[l] })
		if !slices.Equal(want, after) {
			diffs = append(diffs, fmt.Sprintf("%s: the chain changed: it would now wait for rows %v, the plan for rows %v", row, after, want))
		}
	}
	if len(diffs) > 0 {
		return nil, &ChangedError{Path: sh.planPath, Differences: diffs}
	}

	p := &plan.Plan{Steps: make([]plan.Step, len(seal.Steps))}
	for k, i := range idx {
		st := live.Steps[k]
		st.Index = i
		for n, j := range st.After {
			st.After[n] = idx[j]
		}
		p.Steps[i] = st
	}
	for _, j := range live.Order {
		p.Order = append(p.Order, idx[j])
	}
	for i := range seal.Steps {
		sst := &seal.Steps[i]
		if ap.Approved[sst.Line] {
			continue
		}
		st := plan.Step{Index: i, Line: sst.Line, Outcome: sst.Outcome, Code: sst.Code, Message: sst.Message,
			User: sealedUser(sst.User), TransferTo: sealedUser(sst.TransferTo), SubordinatesTo: sealedUser(sst.SubordinatesTo)}
		if st.Outcome == result.Planned {
			st.Outcome, st.Code = result.Skipped, CodeNotApproved
			st.Message = "not approved: the plan workbook's Approved cell for this row is blank or no, so offboard run --plan does not run it"
		}
		p.Steps[i] = st
	}
	return p, nil
}

// userChanges names what changed of a user the plan saw.
func userChanges(row, what string, was, now *approval.User, roles bool) []string {
	who := fmt.Sprintf("%s: %s %s", row, what, was.ID)
	if was.Email != "" {
		who += " (" + was.Email + ")"
	}
	if now == nil {
		return []string{who + " is no longer in the org"}
	}
	var out []string
	if !strings.EqualFold(was.Email, now.Email) {
		out = append(out, fmt.Sprintf("%s: email was %q, is now %q", who, was.Email, now.Email))
	}
	if was.Status != now.Status || was.Confirm != now.Confirm {
		out = append(out, fmt.Sprintf("%s: was %s, is now %s", who, status(was), status(now)))
	}
	if roles && was.RoleID != now.RoleID {
		out = append(out, fmt.Sprintf("%s: role was %s, is now %s (subordinates move by role)", who, orNone(was.RoleID), orNone(now.RoleID)))
	}
	if roles && was.ReportingToID != now.ReportingToID {
		out = append(out, fmt.Sprintf("%s: reports to %s, reported to %s when planned (subordinates move by who reports to whom)", who, orNone(now.ReportingToID), orNone(was.ReportingToID)))
	}
	return out
}

func status(u *approval.User) string {
	if u.Status == zoho.StatusActive && !u.Confirm {
		return "active, invitation not confirmed"
	}
	return u.Status
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func domainName(domain string, sandbox bool) string {
	switch {
	case sandbox:
		return "sandbox"
	case domain == "":
		return "no API domain"
	}
	return domain
}

// sealedUser is a user as the seal keeps them, for a row's results.
func sealedUser(u *approval.User) *zoho.User {
	if u == nil {
		return nil
	}
	return &zoho.User{ID: zoho.ID(u.ID), Email: u.Email, Status: u.Status, Confirm: u.Confirm}
}

// samePlan refuses to resume, with sh, a journal's interrupted run of
// another plan: a run of an input sheet and a run of an approved plan are
// not each other's, nor are runs of one plan approved differently.
func samePlan(path string, was *journal.Plan, sh *sheet) error {
	switch {
	case was == nil && sh.approved == nil:
		return nil
	case was == nil:
		return fmt.Errorf("journal %s holds an interrupted run of the input %s itself, not of an approved plan: run it again with the same command (--input) to resume it, use --fresh to start a new run on it, or --journal to pick another file", path, sh.path)
	case sh.approved == nil:
		return fmt.Errorf("journal %s holds an interrupted run of the approved plan %s (digest %s): run the same command (--plan) again to resume it, use --fresh to start a new run on it, or --journal to pick another file", path, was.File, was.Digest)
	case was.Digest != sh.approved.Digest:
		return fmt.Errorf("journal %s holds an interrupted run of another plan (digest %s, not %s): run that plan again to resume it, use --fresh to start a new run on it, or --journal to pick another file", path, was.Digest, sh.approved.Digest)
	case !slices.Equal(was.Approved, sh.approvedLines()):
		return fmt.Errorf("journal %s holds an interrupted run of this plan with other rows approved (rows %v then, %v now): approve the same rows to resume it, or use --fresh to start a new run on it", path, was.Approved, sh.approvedLines())
	}
	return nil
}

// journaledLines are the lines of the rows that the journal's interrupted
// run names (sent, in doubt, or settled).
func journaledLines(st journal.State) map[int]bool {
	out := make(map[int]bool, len(st.Rows))
	for i, rs := range st.Rows {
		if rs != nil && i >= 0 && i < len(st.Start.Steps) {
			out[st.Start.Steps[i].Line] = true
		}
	}
	return out
}

// Package plan checks the rows of an offboarding sheet against the org's
// directory, before anything is written (README: "Planning: what would happen"), and says what to do
// with each row and in which order.
//
// It is pure: rows, a Directory read once and today's date go in; a Plan
// with one Step per row comes out. No HTTP, no files, no clock.
//
// Each row gets at most one code, the first that applies in the order of
// the README's table of codes. Where the README is silent:
//
//   - HIDDEN_ROW (skipped) comes before every other code: a row the sheet
//     hides (input.Row.Hidden) is not an instruction the reviewer saw, so
//     it is neither checked nor counted for DUPLICATE_ROW. Its users are
//     still looked up, so that the results show whom it named.
//   - DUPLICATE_ROW: a row whose user also appears on an earlier row is
//     invalid whatever became of the earlier row (invalid rows included):
//     two rows for one user are two instructions, and the plan does not
//     guess which one is meant. When the rows say different things (a
//     target, a boolean, the date), the earlier row is DUPLICATE_ROW too,
//     unless a code checked before it applies: a person must choose. A
//     row that says the same as the earlier one (pasted twice) leaves the
//     earlier row judged on its own.
//   - DATE_TOO_FAR: an effective_date more than a year after today is
//     invalid, checked where NOT_DUE is (after every target check).
//   - A planned row whose target's own row is for a later day (NOT_DUE or
//     DATE_TOO_FAR) stays planned; its message says the records or
//     subordinates will have to move again.
//     Users are compared by resolved user ID when the cell names a user,
//     otherwise by the cell's text, case-insensitively.
//   - Emails match case-insensitively. When users share an email, a row
//     means the active one, else one that is not deleted, else a deleted
//     one; among equals, the first that Zoho listed.
//   - A user ID that is some user's zuid rather than their CRM user ID is
//     USER_NOT_FOUND (or TARGET_NOT_FOUND), with a message that names the
//     right ID: the sheet is to name CRM user IDs, and the plan does not
//     rewrite what the sheet says.
//   - When both targets have a problem of the same rank, transfer_to is
//     reported.
//   - A row with booleans but no transfer_to ignores them.
//   - Chains and cycles are judged among planned steps only. A deferred
//     row deletes nobody in this run, so it is in no chain and no cycle:
//     NOT_DUE and TRANSFER_CYCLE can never both apply to a row. Removing
//     the steps of a cycle cannot create another one, so one pass finds
//     them all; the edges are then drawn among the steps left.
package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"offboard/directory"
	"offboard/input"
	"offboard/result"
	"offboard/zoho"
)

// The validation codes (README: "Planning: what would happen"), in the order they are checked.
const (
	CodeHiddenRow           = "HIDDEN_ROW"
	CodeMissingUser         = "MISSING_USER"
	CodeMissingAction       = "MISSING_ACTION"
	CodeBadValue            = input.CodeBadValue
	CodeDuplicateRow        = "DUPLICATE_ROW"
	CodeUserNotFound        = "USER_NOT_FOUND"
	CodeAlreadyDeleted      = "ALREADY_DELETED"
	CodeSuperAdmin          = "SUPER_ADMIN"
	CodeTargetNotFound      = "TARGET_NOT_FOUND"
	CodeTargetIsUser        = "TARGET_IS_USER"
	CodeTargetDeleted       = "TARGET_DELETED"
	CodeTargetInactive      = "TARGET_INACTIVE"
	CodeTargetIsSubordinate = "TARGET_IS_SUBORDINATE"
	CodeTransferCycle       = "TRANSFER_CYCLE"
	CodeDateTooFar          = "DATE_TOO_FAR"
	CodeNotDue              = "NOT_DUE"
)

// MaxAhead is how far ahead an effective_date may be: a date later than a
// year from today is more likely a typo (2099 for 2029) than a plan, and
// is DATE_TOO_FAR.
const MaxAhead = 1 // year

// The sheet's columns, as messages name them.
const (
	colUser           = "user"
	colTransferTo     = "transfer_to"
	colSubordinatesTo = "move_subordinates_to"
)

// Step is what to do with one row.
type Step struct {
	// Index is the row's position in the rows given to Build.
	Index int
	// Line is the row's number in the spreadsheet.
	Line int
	// Outcome is Planned, Invalid, Skipped or Deferred.
	Outcome result.Outcome
	// Code is a validation code; empty for a planned step.
	Code string
	// Message is one sentence a person can act on.
	Message string
	// User, TransferTo and SubordinatesTo are the users the row's cells
	// name, nil where a cell is blank or names no user. They are set
	// whatever the outcome, so that an invalid row still shows who it
	// meant.
	User, TransferTo, SubordinatesTo *zoho.User
	// Request is what to send, for planned and deferred steps.
	Request zoho.TransferRequest
	// first is 1 + the index of the earlier row of the same user, for a
	// DUPLICATE_ROW; 0 otherwise.
	first int
	// effective is the row's effective_date, for the messages of rows
	// whose targets leave later.
	effective string
	// After lists, in ascending order, the indexes of the steps whose jobs
	// must complete before this one is submitted: they transfer records or
	// subordinates to this step's user.
	After []int
}

// Plan is the verdict on every row.
type Plan struct {
	// Steps has one step per row, in input order.
	Steps []Step
	// Order lists the indexes of the planned steps in an order that
	// respects every step's After, otherwise in input order.
	Order []int
}

// Counts returns the number of steps per outcome.
func (p *Plan) Counts() map[result.Outcome]int {
	c := make(map[result.Outcome]int, 4)
	for i := range p.Steps {
		c[p.Steps[i].Outcome]++
	}
	return c
}

// Build checks every row against the directory and orders the steps.
// today decides which rows are not due yet.
func Build(rows []input.Row, d directory.Directory, today input.Date) *Plan {
	return BuildKnowing(rows, d, today, nil)
}

// BuildKnowing is Build for a run whose journals recorded jobs for the
// users in deletedByUs: of deleted users who share an email (Zoho keeps
// deleted users, and an address can be given again), a row means the one
// an earlier run deleted, whose job the results can then name.
func BuildKnowing(rows []input.Row, d directory.Directory, today input.Date, deletedByUs map[zoho.ID]bool) *Plan {
	dir := index(d, deletedByUs)
	p := &Plan{Steps: make([]Step, len(rows))}
	seen := seenUsers{byID: make(map[zoho.ID]firstRow, len(rows)), byText: make(map[string]firstRow)}
	for i := range rows {
		p.Steps[i] = dir.check(&rows[i], i, today, &seen)
	}
	conflicts(p, rows)
	link(p)
	for i := range rows {
		// How the reader read a cell (a merged one) is said whatever
		// became of the row.
		if len(rows[i].Notes) > 0 && !rows[i].Hidden {
			p.Steps[i].Message = withNotes(p.Steps[i].Message, rows[i].Notes)
		}
	}
	return p
}

// seenUsers remembers the first row of each user, for DUPLICATE_ROW.
type seenUsers struct {
	byID   map[zoho.ID]firstRow // by resolved user
	byText map[string]firstRow  // by cell text, lower case
}

// firstRow is where a user first appears.
type firstRow struct {
	index, line int
	raw         string // the user cell as written there
}

// earlier returns the line of an earlier row of the same user, and
// remembers this row if it is the first. A cell that names a user is
// compared by the user's ID, so an email and an ID of one user match;
// another cell by its text.
func (s *seenUsers) earlier(index, line int, u *zoho.User, ref input.Ref) (firstRow, bool) {
	if u != nil {
		if f, ok := s.byID[u.ID]; ok {
			return f, true
		}
		s.byID[u.ID] = firstRow{index, line, ref.Raw}
		return firstRow{}, false
	}
	key := strings.ToLower(ref.Raw)
	if f, ok := s.byText[key]; ok {
		return f, true
	}
	s.byText[key] = firstRow{index, line, ref.Raw}
	return firstRow{}, false
}

// check gives a row its step: the first code that applies, or Planned or
// Deferred. Chains and cycles are left to link.
func (d *orgIndex) check(row *input.Row, i int, today input.Date, seen *seenUsers) Step {
	st := Step{Index: i, Line: row.Line}
	st.User = d.lookup(row.User)
	st.TransferTo = d.lookup(row.TransferTo)
	st.SubordinatesTo = d.lookup(row.SubordinatesTo)
	invalid := func(code, format string, args ...any) Step {
		st.Outcome, st.Code, st.Message = result.Invalid, code, fmt.Sprintf(format, args...)
		return st
	}

	if row.Hidden {
		// Not an instruction the reviewer saw: it is neither checked nor
		// remembered, so a visible row of the same user is no duplicate.
		st.Outcome, st.Code = result.Skipped, CodeHiddenRow
		st.Message = "the row is hidden in the sheet (filtered out, or hidden by hand), so it is not planned: show it and run again, or pass --include-hidden to plan hidden rows"
		return st
	}

	if row.User.IsZero() {
		return invalid(CodeMissingUser, "the %s cell is blank: write the email or Zoho user ID of the user to delete", colUser)
	}
	// Remember the user before any other check, so that a later row of
	// the same user is a duplicate whatever this row's fate.
	earlier, dup := seen.earlier(i, row.Line, st.User, row.User)
	if row.TransferTo.IsZero() && row.SubordinatesTo.IsZero() {
		return invalid(CodeMissingAction, "%s %q has neither %s nor %s: write who receives their records or subordinates", colUser, row.User.Raw, colTransferTo, colSubordinatesTo)
	}
	if len(row.Problems) > 0 {
		return invalid(CodeBadValue, "%s", problems(row.Problems))
	}
	if dup {
		st.first = earlier.index + 1
		if !strings.EqualFold(earlier.raw, row.User.Raw) {
			return invalid(CodeDuplicateRow, "%s %q already appears on row %d, as %q: keep one row per user", colUser, row.User.Raw, earlier.line, earlier.raw)
		}
		return invalid(CodeDuplicateRow, "%s %q already appears on row %d: keep one row per user", colUser, row.User.Raw, earlier.line)
	}
	u := st.User
	if u == nil {
		return invalid(CodeUserNotFound, "%s", d.notFound(colUser, row.User))
	}
	if u.Deleted() {
		st.Outcome, st.Code = result.Skipped, CodeAlreadyDeleted
		st.Message = fmt.Sprintf("%s is already deleted in Zoho: nothing to do", cell(colUser, row.User, u))
		return st
	}
	if d.org.IsSuperAdmin(*u) {
		return invalid(CodeSuperAdmin, "%s is the org's super admin, whom Zoho does not let anyone delete: remove the row", cell(colUser, row.User, u))
	}

	targets := [2]target{
		{colTransferTo, row.TransferTo, st.TransferTo},
		{colSubordinatesTo, row.SubordinatesTo, st.SubordinatesTo},
	}
	for _, t := range targets {
		if !t.ref.IsZero() && t.user == nil {
			return invalid(CodeTargetNotFound, "%s", d.notFound(t.column, t.ref))
		}
	}
	for _, t := range targets {
		if t.user != nil && t.user.ID == u.ID {
			return invalid(CodeTargetIsUser, "%s %q is the user this row deletes: choose someone else", t.column, t.ref.Raw)
		}
	}
	for _, t := range targets {
		if t.user != nil && t.user.Deleted() {
			return invalid(CodeTargetDeleted, "%s is deleted in Zoho: choose an active user", cell(t.column, t.ref, t.user))
		}
	}
	for _, t := range targets {
		if t.user != nil && !t.user.Active() {
			return invalid(CodeTargetInactive, "%s %s in Zoho: choose an active user", cell(t.column, t.ref, t.user), inactive(t.user))
		}
	}
	if s := st.SubordinatesTo; s != nil && d.isSubordinate(s, u) {
		return invalid(CodeTargetIsSubordinate, "%s is a subordinate of %s, so cannot take over their subordinates (%s): choose someone above or beside them", cell(colSubordinatesTo, row.SubordinatesTo, s), describe(u), hierarchyName(d.org.Hierarchy()))
	}

	if d := row.EffectiveDate; d != nil && d.After(yearAhead(today)) {
		st.effective = d.String()
		return invalid(CodeDateTooFar, "effective_date %s is more than a year after today, %s: is the year right? Correct it, or leave the row out until the year before", d, today)
	}
	st.Request = request(row, &st)
	st.Outcome = result.Planned
	if row.EffectiveDate != nil && row.EffectiveDate.After(today) {
		st.effective = row.EffectiveDate.String()
		st.Outcome, st.Code = result.Deferred, CodeNotDue
		st.Message = fmt.Sprintf("effective_date %s is after today, %s: run the row again on or after that day", row.EffectiveDate, today)
	}
	return st
}

// yearAhead is the same day MaxAhead years after today (28 February for
// 29 February).
func yearAhead(today input.Date) input.Date {
	d := input.Date{Year: today.Year + MaxAhead, Month: today.Month, Day: today.Day}
	if d.Month == time.February && d.Day == 29 {
		d.Day = 28
	}
	return d
}

// conflicts turns invalid the first row of a user whose later rows say
// something else (another target, other booleans, another date): a person
// must choose, and the plan does not guess that the first row is meant.
// The later rows are DUPLICATE_ROW already; their message now says what
// differs. A later row that says the same as the first (a row pasted
// twice) leaves the first as it was judged.
func conflicts(p *Plan, rows []input.Row) {
	for i := range p.Steps {
		st := &p.Steps[i]
		if st.Code != CodeDuplicateRow || st.first == 0 {
			continue
		}
		j := st.first - 1
		first := &p.Steps[j]
		col := differs(&rows[j], first, &rows[i], st)
		if col == "" {
			continue
		}
		as := ""
		if !strings.EqualFold(rows[j].User.Raw, rows[i].User.Raw) {
			as = fmt.Sprintf(", as %q,", rows[j].User.Raw)
		}
		st.Message = fmt.Sprintf("%s %q also appears on row %d%s with another %s (%s there, %s here): neither row is planned; keep the one row you mean",
			colUser, rows[i].User.Raw, first.Line, as, col, cellText(&rows[j], col), cellText(&rows[i], col))
		if first.Outcome == result.Invalid && first.Code != CodeDuplicateRow && rank(first.Code) < rank(CodeDuplicateRow) {
			continue // the first row is invalid for a reason checked before duplicates
		}
		msg := fmt.Sprintf("%s %q appears again on row %d with another %s (%s here, %s there): neither row is planned; keep the one row you mean",
			colUser, rows[j].User.Raw, st.Line, col, cellText(&rows[j], col), cellText(&rows[i], col))
		if first.Code == CodeDuplicateRow {
			msg = first.Message + "; " + msg // a third row, or more
		}
		first.Outcome, first.Code, first.Message = result.Invalid, CodeDuplicateRow, msg
		first.Request = zoho.TransferRequest{}
	}
}

// rank is a code's place in the order codes are checked.
func rank(code string) int {
	for i, c := range []string{CodeHiddenRow, CodeMissingUser, CodeMissingAction, CodeBadValue, CodeDuplicateRow} {
		if c == code {
			return i
		}
	}
	return 100
}

// differs returns the first column in which two rows of one user say
// different things, or "": targets compare by the user they name (an email
// and an ID of one user are the same), booleans as sent (blank is TRUE),
// dates by day.
func differs(a *input.Row, sa *Step, b *input.Row, sb *Step) string {
	sameTarget := func(ra, rb input.Ref, ua, ub *zoho.User) bool {
		if ua != nil && ub != nil {
			return ua.ID == ub.ID
		}
		return ua == nil && ub == nil && strings.EqualFold(strings.TrimSpace(ra.Raw), strings.TrimSpace(rb.Raw))
	}
	switch {
	case !sameTarget(a.TransferTo, b.TransferTo, sa.TransferTo, sb.TransferTo):
		return colTransferTo
	case !sameTarget(a.SubordinatesTo, b.SubordinatesTo, sa.SubordinatesTo, sb.SubordinatesTo):
		return colSubordinatesTo
	case orTrue(a.Records) != orTrue(b.Records):
		return string(input.ColRecords)
	case orTrue(a.Assignment) != orTrue(b.Assignment):
		return string(input.ColAssignment)
	case orTrue(a.Criteria) != orTrue(b.Criteria):
		return string(input.ColCriteria)
	case (a.EffectiveDate == nil) != (b.EffectiveDate == nil) || a.EffectiveDate != nil && a.EffectiveDate.Compare(*b.EffectiveDate) != 0:
		return string(input.ColEffectiveDate)
	}
	return ""
}

// cellText is a row's cell in column col as a message quotes it.
func cellText(r *input.Row, col string) string {
	var v string
	switch col {
	case colTransferTo:
		v = r.TransferTo.Raw
	case colSubordinatesTo:
		v = r.SubordinatesTo.Raw
	default:
		var p **bool
		switch col {
		case string(input.ColRecords):
			p = &r.Records
		case string(input.ColAssignment):
			p = &r.Assignment
		case string(input.ColCriteria):
			p = &r.Criteria
		}
		if p != nil {
			if *p == nil {
				return "blank"
			}
			return strings.ToUpper(fmt.Sprint(**p))
		}
		if r.EffectiveDate != nil {
			v = r.EffectiveDate.String()
		}
	}
	if v == "" {
		return "blank"
	}
	return strconv.Quote(v)
}

// target is one of a row's two target cells.
type target struct {
	column string
	ref    input.Ref
	user   *zoho.User
}

// cell names a cell and the user it resolved to, without saying an email
// twice: user "ann@x.example" (Ann Lee), user "1004" (Ann Lee <ann@x.example>).
func cell(column string, r input.Ref, u *zoho.User) string {
	who := describe(u)
	if r.Email != "" && strings.EqualFold(r.Email, u.Email) {
		who = fullName(u)
	}
	if who == "" {
		return fmt.Sprintf("%s %q", column, r.Raw)
	}
	return fmt.Sprintf("%s %q (%s)", column, r.Raw, who)
}

// request is what Zoho is sent for the row. The booleans default to true
// when transfer_to is set (README: "The input sheet").
func request(row *input.Row, st *Step) zoho.TransferRequest {
	r := zoho.TransferRequest{UserID: string(st.User.ID)}
	if st.TransferTo != nil {
		r.Transfer = &zoho.Transfer{
			ToID:       string(st.TransferTo.ID),
			Records:    orTrue(row.Records),
			Assignment: orTrue(row.Assignment),
			Criteria:   orTrue(row.Criteria),
		}
	}
	if st.SubordinatesTo != nil {
		r.SubordinatesTo = string(st.SubordinatesTo.ID)
	}
	return r
}

func orTrue(b *bool) bool { return b == nil || *b }

// withNotes adds the reader's notes on a row to its message.
func withNotes(msg string, notes []string) string {
	n := strings.Join(notes, "; ")
	if msg == "" {
		return n
	}
	return msg + " (" + n + ")"
}

// problems joins a row's cell problems into one message.
func problems(ps []input.Problem) string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
		if msgs[i] == "" {
			msgs[i] = fmt.Sprintf("%s %q does not parse", p.Column, p.Value)
		}
	}
	return strings.Join(msgs, "; ")
}

// inactive says why an undeleted user cannot receive anything.
func inactive(u *zoho.User) string {
	switch u.Status {
	case zoho.StatusInactive:
		return "is inactive"
	case zoho.StatusDisabled:
		return "is disabled"
	case zoho.StatusActive:
		return "has not confirmed their invitation"
	}
	return fmt.Sprintf("has status %q", u.Status)
}

func hierarchyName(h string) string {
	if h == zoho.ReportingToHierarchy {
		return "the org uses the reporting-to hierarchy"
	}
	return "the org uses the role hierarchy"
}

// Results returns each step's row result, as the plan leaves it: the
// input row's own cells and line, the plan's verdict, and the users it
// resolved. rows are the rows given to Build.
func (p *Plan) Results(rows []input.Row) []result.Row {
	out := make([]result.Row, len(p.Steps))
	for i := range p.Steps {
		out[i] = p.Steps[i].Result(rows[p.Steps[i].Index])
	}
	return out
}

// Result is the step's row result, as the plan leaves it.
func (st *Step) Result(row input.Row) result.Row {
	r := result.Row{Line: row.Line, Cells: row.Cells, Outcome: st.Outcome, Code: st.Code, Message: st.Message}
	if st.User != nil {
		r.UserID, r.UserEmail = string(st.User.ID), st.User.Email
	}
	if r.UserID == "" {
		r.UserID = st.Request.UserID
	}
	if st.TransferTo != nil {
		r.TransferToID = string(st.TransferTo.ID)
	}
	if st.SubordinatesTo != nil {
		r.SubordinatesToID = string(st.SubordinatesTo.ID)
	}
	return r
}

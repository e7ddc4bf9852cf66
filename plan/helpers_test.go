package plan_test

import (
	"strconv"
	"strings"
	"time"

	"offboard/directory"
	"offboard/input"
	"offboard/plan"
	"offboard/result"
	"offboard/zoho"
)

// The test org. Roles: CEO ← VP ← Manager ← Rep, and CEO ← Ops. Users
// report along the same lines.
const (
	roleCEO = "2001"
	roleVP  = "2002"
	roleMgr = "2003"
	roleRep = "2004"
	roleOps = "2005"
)

// today is the day the tests plan on.
func today() input.Date { return input.Date{Year: 2025, Month: time.June, Day: 15} }

// member is a hand-made user: id, email, status, confirmed, role, manager.
func member(id, email, status string, confirm bool, role, manager string) zoho.User {
	u := zoho.User{
		ID: zoho.ID(id), ZUID: zoho.ID("9" + id), Email: email, Status: status, Confirm: confirm,
		FullName: strings.ToUpper(email[:1]) + email[1:strings.IndexByte(email, '@')],
	}
	if role != "" {
		u.Role = &zoho.Ref{ID: zoho.ID(role)}
	}
	if manager != "" {
		u.ReportingTo = &zoho.Ref{ID: zoho.ID(manager)}
	}
	return u
}

func active(id, email, role, manager string) zoho.User {
	return member(id, email, zoho.StatusActive, true, role, manager)
}

// testDirectory builds the test org under the given hierarchy type. It is a
// function, not a shared variable, so that a test may change its copy.
func testDirectory(hierarchy string) directory.Directory {
	users := []zoho.User{
		active("1001", "admin@x.example", roleCEO, ""),
		active("1002", "vp@x.example", roleVP, "1001"),
		active("1003", "mgr@x.example", roleMgr, "1002"),
		active("1004", "rep@x.example", roleRep, "1003"),
		active("1005", "ops@x.example", roleOps, "1001"),
		member("1006", "gone@x.example", zoho.StatusDeleted, true, roleRep, "1003"),
		member("1007", "idle@x.example", zoho.StatusInactive, true, roleRep, "1003"),
		member("1008", "off@x.example", zoho.StatusDisabled, true, roleRep, "1003"),
		member("1009", "new@x.example", zoho.StatusActive, false, roleRep, "1003"),
		member("1010", "shared@x.example", zoho.StatusDeleted, true, roleRep, "1003"),
		active("1011", "Shared@X.example", roleRep, "1003"),
		active("1012", "a@x.example", roleRep, "1003"),
		active("1013", "b@x.example", roleRep, "1003"),
		active("1014", "c@x.example", roleRep, "1003"),
		active("1015", "d@x.example", roleRep, "1003"),
		active("1016", "vp2@x.example", roleVP, "1001"),
	}
	users[9].ZUID = "" // a deleted user who never confirmed has no zuid
	var d directory.Directory
	d.Org.PrimaryZUID = "91001"
	d.Org.PrimaryEmail = "admin@x.example"
	d.Org.HierarchyPreferences.Type = hierarchy
	d.Users = users
	d.Roles = []zoho.Role{
		{ID: roleCEO, Name: "CEO"},
		{ID: roleVP, Name: "VP", ReportingTo: &zoho.Ref{ID: roleCEO}},
		{ID: roleMgr, Name: "Manager", ReportingTo: &zoho.Ref{ID: roleVP}},
		{ID: roleRep, Name: "Rep", ReportingTo: &zoho.Ref{ID: roleMgr}},
		{ID: roleOps, Name: "Ops", ReportingTo: &zoho.Ref{ID: roleCEO}},
	}
	d.Caller = users[0]
	return d
}

// ref reads a cell as the input package does, for the cells tests use:
// digits are an ID, anything with an @ an email, anything else a bad value.
func ref(s string) input.Ref {
	s = strings.TrimSpace(s)
	r := input.Ref{Raw: s}
	switch {
	case s == "":
	case strings.Trim(s, "0123456789") == "":
		r.ID = s
	case strings.Contains(s, "@"):
		r.Email = s
	}
	return r
}

// row is an input row: user, transfer_to, move_subordinates_to. A cell that
// ref cannot read gets its BAD_VALUE problem, as input would give it.
func row(line int, user, transferTo, subordinatesTo string) input.Row {
	r := input.Row{
		Line:  line,
		Cells: []string{user, transferTo, subordinatesTo},
		User:  ref(user), TransferTo: ref(transferTo), SubordinatesTo: ref(subordinatesTo),
	}
	for _, c := range []struct {
		name string
		ref  input.Ref
	}{{"user", r.User}, {"transfer_to", r.TransferTo}, {"move_subordinates_to", r.SubordinatesTo}} {
		if c.ref.Raw != "" && c.ref.ID == "" && c.ref.Email == "" {
			r.Problems = append(r.Problems, badValue(c.name, c.ref.Raw, "is not an email nor a Zoho user ID"))
		}
	}
	return r
}

func badValue(column, value, msg string) input.Problem {
	return input.Problem{Code: input.CodeBadValue, Column: column, Value: value, Message: column + " " + strconv.Quote(value) + " " + msg}
}

func withBadRecords(r input.Row) input.Row {
	r.Problems = append(r.Problems, badValue("records", "maybe", "is not a yes or no"))
	return r
}

func dated(r input.Row, d input.Date) input.Row {
	r.EffectiveDate = &d
	return r
}

func ptr[T any](v T) *T { return &v }

// verdict is what most tests compare of a step.
type verdict struct {
	Line    int
	Outcome result.Outcome
	Code    string
}

func verdicts(p *plan.Plan) []verdict {
	var v []verdict
	for _, st := range p.Steps {
		v = append(v, verdict{st.Line, st.Outcome, st.Code})
	}
	return v
}

// lines turns step indexes into row numbers, which read better in a diff.
func lines(p *plan.Plan, idx []int) []int {
	var l []int
	for _, i := range idx {
		l = append(l, p.Steps[i].Line)
	}
	return l
}

package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/directory"
	"offboard/input"
	"offboard/plan"
	"offboard/result"
	"offboard/zoho"
)

// TestBuildCodes gives every code a row, and checks the message of the row
// under test names what a person must fix.
func TestBuildCodes(t *testing.T) {
	tests := []struct {
		name      string
		hierarchy string
		rows      []input.Row
		want      verdict // of the last row
		msgHas    []string
	}{
		{"planned", "", []input.Row{row(2, "rep@x.example", "a@x.example", "")},
			verdict{2, result.Planned, ""}, []string{"delete Rep <rep@x.example>", "records, assignment and criteria to A <a@x.example>"}},
		{"planned by ID", "", []input.Row{row(2, "1004", "1012", "1013")},
			verdict{2, result.Planned, ""}, []string{"moving subordinates to B <b@x.example>"}},
		{"missing user", "", []input.Row{row(2, "", "a@x.example", "")},
			verdict{2, result.Invalid, plan.CodeMissingUser}, []string{"user cell is blank"}},
		{"missing action", "", []input.Row{row(2, "rep@x.example", "", "")},
			verdict{2, result.Invalid, plan.CodeMissingAction}, []string{`"rep@x.example"`, "transfer_to", "move_subordinates_to"}},
		{"bad user cell", "", []input.Row{row(2, "rep at x", "a@x.example", "")},
			verdict{2, result.Invalid, plan.CodeBadValue}, []string{`user "rep at x" is not an email`}},
		{"bad values joined", "", []input.Row{withBadRecords(row(2, "rep@x.example", "a@x.example", "nobody"))},
			verdict{2, result.Invalid, plan.CodeBadValue}, []string{`move_subordinates_to "nobody"`, `; records "maybe"`}},
		{"duplicate", "", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "REP@x.example", "b@x.example", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{`user "REP@x.example" also appears on row 2 with another transfer_to ("a@x.example" there, "b@x.example" here): neither row is planned; keep the one row you mean`}},
		{"duplicate pasted twice", "", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "REP@x.example", "A@x.example", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{`"REP@x.example" already appears on row 2`}},
		{"duplicate pasted twice, by ID", "", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "1004", "1012", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{`already appears on row 2, as "rep@x.example"`}},
		{"duplicate by email and ID", "", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "1004", "b@x.example", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{`row 2, as "rep@x.example", with another transfer_to`}},
		{"duplicate by ID and email", "", []input.Row{row(2, "1004", "a@x.example", ""), row(3, "Rep@X.Example", "b@x.example", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{`row 2, as "1004", with another transfer_to`}},
		{"duplicate of an unknown user", "", []input.Row{row(2, "who@x.example", "a@x.example", ""), row(3, "WHO@x.example", "b@x.example", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{"row 2"}},
		{"duplicate of an invalid row", "", []input.Row{row(2, "rep@x.example", "", ""), row(3, "rep@x.example", "b@x.example", "")},
			verdict{3, result.Invalid, plan.CodeDuplicateRow}, []string{"row 2"}},
		{"user not found by email", "", []input.Row{row(2, "who@x.example", "a@x.example", "")},
			verdict{2, result.Invalid, plan.CodeUserNotFound}, []string{`"who@x.example"`, "check the spelling"}},
		{"user not found by ID", "", []input.Row{row(2, "1999", "a@x.example", "")},
			verdict{2, result.Invalid, plan.CodeUserNotFound}, []string{`"1999"`}},
		{"user named by zuid", "", []input.Row{row(2, "91004", "a@x.example", "")},
			verdict{2, result.Invalid, plan.CodeUserNotFound}, []string{"zuid", "Rep <rep@x.example>", "write 1004"}},
		{"already deleted", "", []input.Row{row(2, "gone@x.example", "a@x.example", "")},
			verdict{2, result.Skipped, plan.CodeAlreadyDeleted}, []string{"already deleted", "nothing to do"}},
		{"super admin", "", []input.Row{row(2, "ADMIN@x.example", "a@x.example", "")},
			verdict{2, result.Invalid, plan.CodeSuperAdmin}, []string{"super admin"}},
		{"transfer target not found", "", []input.Row{row(2, "rep@x.example", "who@x.example", "")},
			verdict{2, result.Invalid, plan.CodeTargetNotFound}, []string{`transfer_to "who@x.example"`}},
		{"subordinates target not found", "", []input.Row{row(2, "rep@x.example", "a@x.example", "1999")},
			verdict{2, result.Invalid, plan.CodeTargetNotFound}, []string{`move_subordinates_to "1999"`}},
		{"transfer target is user", "", []input.Row{row(2, "rep@x.example", "1004", "")},
			verdict{2, result.Invalid, plan.CodeTargetIsUser}, []string{`transfer_to "1004" is the user this row deletes`}},
		{"subordinates target is user", "", []input.Row{row(2, "rep@x.example", "", "Rep@x.example")},
			verdict{2, result.Invalid, plan.CodeTargetIsUser}, []string{"move_subordinates_to"}},
		{"target deleted", "", []input.Row{row(2, "rep@x.example", "gone@x.example", "")},
			verdict{2, result.Invalid, plan.CodeTargetDeleted}, []string{`transfer_to "gone@x.example"`, "choose an active user"}},
		{"target inactive", "", []input.Row{row(2, "rep@x.example", "idle@x.example", "")},
			verdict{2, result.Invalid, plan.CodeTargetInactive}, []string{`transfer_to "idle@x.example"`, "is inactive in Zoho: choose an active user"}},
		{"target disabled", "", []input.Row{row(2, "rep@x.example", "", "off@x.example")},
			verdict{2, result.Invalid, plan.CodeTargetInactive}, []string{`move_subordinates_to "off@x.example"`, "is disabled"}},
		{"target not confirmed", "", []input.Row{row(2, "rep@x.example", "new@x.example", "")},
			verdict{2, result.Invalid, plan.CodeTargetInactive}, []string{"has not confirmed"}},
		{"subordinates target is a subordinate", "", []input.Row{row(2, "vp@x.example", "", "mgr@x.example")},
			verdict{2, result.Invalid, plan.CodeTargetIsSubordinate}, []string{`move_subordinates_to "mgr@x.example"`, "subordinate of Vp <vp@x.example>", "role hierarchy"}},
		{"transfer target may be a subordinate", "", []input.Row{row(2, "vp@x.example", "mgr@x.example", "ops@x.example")},
			verdict{2, result.Planned, ""}, nil},
		{"transfer cycle", "", []input.Row{row(2, "a@x.example", "b@x.example", ""), row(3, "b@x.example", "a@x.example", "")},
			verdict{3, result.Invalid, plan.CodeTransferCycle}, []string{"rows 2 and 3", "outside the circle"}},
		{"not due", "", []input.Row{dated(row(2, "rep@x.example", "a@x.example", ""), input.Date{Year: 2025, Month: time.June, Day: 16})},
			verdict{2, result.Deferred, plan.CodeNotDue}, []string{"effective_date 2025-06-16 is after today, 2025-06-15"}},
		{"due today", "", []input.Row{dated(row(2, "rep@x.example", "a@x.example", ""), today())},
			verdict{2, result.Planned, ""}, nil},
		{"due yesterday", "", []input.Row{dated(row(2, "rep@x.example", "a@x.example", ""), input.Date{Year: 2025, Month: time.June, Day: 14})},
			verdict{2, result.Planned, ""}, nil},
		{"shared email means the active user", "", []input.Row{row(2, "SHARED@x.example", "a@x.example", "")},
			verdict{2, result.Planned, ""}, []string{"Shared@X.example"}},
		{"shared email as a target", "", []input.Row{row(2, "rep@x.example", "shared@X.EXAMPLE", "")},
			verdict{2, result.Planned, ""}, nil},
		{"deleted user by ID despite shared email", "", []input.Row{row(2, "1010", "a@x.example", "")},
			verdict{2, result.Skipped, plan.CodeAlreadyDeleted}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan.Build(tt.rows, testDirectory(tt.hierarchy), today())
			if len(p.Steps) != len(tt.rows) {
				t.Fatalf("Build(%s) = %d steps, want %d", tt.name, len(p.Steps), len(tt.rows))
			}
			last := p.Steps[len(p.Steps)-1]
			if got := (verdict{last.Line, last.Outcome, last.Code}); got != tt.want {
				t.Errorf("Build(%s) last step = %+v, want %+v (message %q)", tt.name, got, tt.want, last.Message)
			}
			for _, s := range tt.msgHas {
				if !strings.Contains(last.Message, s) {
					t.Errorf("Build(%s) message = %q, want it to contain %q", tt.name, last.Message, s)
				}
			}
			if strings.HasSuffix(last.Message, ".") || strings.Contains(last.Message, "\n") {
				t.Errorf("Build(%s) message = %q, want one sentence without a full stop", tt.name, last.Message)
			}
		})
	}
}

// TestBuildPrecedence gives rows several problems each: the first in the
// README's order wins.
func TestBuildPrecedence(t *testing.T) {
	rows := []input.Row{
		row(2, "rep@x.example", "a@x.example", ""),                                                                  // the duplicates' first row: row 6 names another target
		withBadRecords(row(3, "", "", "")),                                                                          // missing user, no action, bad value
		withBadRecords(row(4, "who@x.example", "", "")),                                                             // no action, bad value, not found
		withBadRecords(row(5, "rep@x.example", "a@x.example", "")),                                                  // bad value, duplicate
		row(6, "rep@x.example", "who@x.example", ""),                                                                // duplicate, target not found
		row(7, "nobody@x.example", "gone@x.example", ""),                                                            // user not found, target deleted
		row(8, "gone@x.example", "gone@x.example", ""),                                                              // already deleted, target is user
		row(9, "admin@x.example", "who@x.example", ""),                                                              // super admin, target not found
		row(10, "b@x.example", "1001", "who@x.example"),                                                             // subordinates target not found beats transfer's nothing
		row(11, "c@x.example", "gone@x.example", "c@x.example"),                                                     // target is user beats target deleted
		row(12, "d@x.example", "idle@x.example", "gone@x.example"),                                                  // target deleted beats target inactive
		dated(row(13, "vp@x.example", "idle@x.example", "mgr@x.example"), input.Date{Year: 2026, Month: 1, Day: 1}), // inactive, subordinate, not due
		dated(row(14, "vp2@x.example", "", "mgr@x.example"), input.Date{Year: 2026, Month: 1, Day: 1}),              // subordinate, not due
	}
	want := []verdict{
		{2, result.Invalid, plan.CodeDuplicateRow},
		{3, result.Invalid, plan.CodeMissingUser},
		{4, result.Invalid, plan.CodeMissingAction},
		{5, result.Invalid, plan.CodeBadValue},
		{6, result.Invalid, plan.CodeDuplicateRow},
		{7, result.Invalid, plan.CodeUserNotFound},
		{8, result.Skipped, plan.CodeAlreadyDeleted},
		{9, result.Invalid, plan.CodeSuperAdmin},
		{10, result.Invalid, plan.CodeTargetNotFound},
		{11, result.Invalid, plan.CodeTargetIsUser},
		{12, result.Invalid, plan.CodeTargetDeleted},
		{13, result.Invalid, plan.CodeTargetInactive},
		{14, result.Invalid, plan.CodeTargetIsSubordinate},
	}
	p := plan.Build(rows, testDirectory(zoho.RoleHierarchy), today())
	if diff := cmp.Diff(want, verdicts(p)); diff != "" {
		t.Errorf("Build(rows with several problems) verdicts (-want +got):\n%s", diff)
	}
	if got := p.Steps[8].Message; !strings.Contains(got, "move_subordinates_to") {
		t.Errorf("Build: row 10 message = %q, want it to name move_subordinates_to", got)
	}
}

// TestBuildSubordinate checks TARGET_IS_SUBORDINATE under both hierarchy
// types, and that cycles in the org's data end the walk.
func TestBuildSubordinate(t *testing.T) {
	roleCycle := func(d *directory.Directory) {
		// Manager and Rep report to each other; VP stays above.
		d.Roles[2].ReportingTo = &zoho.Ref{ID: roleRep}
	}
	managerCycle := func(d *directory.Directory) {
		d.Users[2].ReportingTo = &zoho.Ref{ID: "1003"} // mgr reports to themself
		d.Users[11].ReportingTo = &zoho.Ref{ID: "1013"}
		d.Users[12].ReportingTo = &zoho.Ref{ID: "1012"} // a and b report to each other
	}
	noRoles := func(d *directory.Directory) { d.Roles = nil }
	tests := []struct {
		name      string
		hierarchy string
		change    func(*directory.Directory)
		user, to  string
		want      string // code, "" when planned
	}{
		{"role: child", zoho.RoleHierarchy, nil, "vp@x.example", "mgr@x.example", plan.CodeTargetIsSubordinate},
		{"role: grandchild", zoho.RoleHierarchy, nil, "vp@x.example", "rep@x.example", plan.CodeTargetIsSubordinate},
		{"role: other branch", zoho.RoleHierarchy, nil, "vp@x.example", "ops@x.example", ""},
		{"role: above", zoho.RoleHierarchy, nil, "mgr@x.example", "vp@x.example", ""},
		{"role: same role is a peer", zoho.RoleHierarchy, nil, "vp@x.example", "vp2@x.example", ""},
		{"role: peer of a rep", zoho.RoleHierarchy, nil, "a@x.example", "b@x.example", ""},
		{"role: default type is role", "", nil, "vp@x.example", "rep@x.example", plan.CodeTargetIsSubordinate},
		{"role: cycle in roles, inside", zoho.RoleHierarchy, roleCycle, "mgr@x.example", "rep@x.example", plan.CodeTargetIsSubordinate},
		{"role: cycle in roles, from outside", zoho.RoleHierarchy, roleCycle, "ops@x.example", "rep@x.example", ""},
		{"role: roles not read", zoho.RoleHierarchy, noRoles, "vp@x.example", "rep@x.example", ""},
		{"reporting: direct report", zoho.ReportingToHierarchy, nil, "mgr@x.example", "rep@x.example", plan.CodeTargetIsSubordinate},
		{"reporting: indirect report", zoho.ReportingToHierarchy, nil, "vp@x.example", "a@x.example", plan.CodeTargetIsSubordinate},
		{"reporting: other branch", zoho.ReportingToHierarchy, nil, "vp@x.example", "ops@x.example", ""},
		{"reporting: manager", zoho.ReportingToHierarchy, nil, "rep@x.example", "mgr@x.example", ""},
		{"reporting: same role, not a report", zoho.ReportingToHierarchy, nil, "vp@x.example", "vp2@x.example", ""},
		{"reporting: cycle in managers", zoho.ReportingToHierarchy, managerCycle, "vp@x.example", "a@x.example", ""},
		{"reporting: self-report", zoho.ReportingToHierarchy, managerCycle, "vp@x.example", "rep@x.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDirectory(tt.hierarchy)
			if tt.change != nil {
				tt.change(&d)
			}
			p := plan.Build([]input.Row{row(2, tt.user, "", tt.to)}, d, today())
			if got := p.Steps[0].Code; got != tt.want {
				t.Errorf("Build(%s subordinates to %s) code = %q, want %q (message %q)", tt.user, tt.to, got, tt.want, p.Steps[0].Message)
			}
		})
	}
}

// TestBuildResolved checks the users a step resolves, including for rows
// that are invalid.
func TestBuildResolved(t *testing.T) {
	rows := []input.Row{
		row(2, "SHARED@x.example", "1012", "b@x.example"),
		row(3, "rep@x.example", "idle@x.example", ""),
		row(4, "who@x.example", "", "c@x.example"),
	}
	p := plan.Build(rows, testDirectory(""), today())
	type ids struct{ User, TransferTo, SubordinatesTo zoho.ID }
	idOf := func(u *zoho.User) zoho.ID {
		if u == nil {
			return ""
		}
		return u.ID
	}
	var got []ids
	for _, st := range p.Steps {
		got = append(got, ids{idOf(st.User), idOf(st.TransferTo), idOf(st.SubordinatesTo)})
	}
	want := []ids{{"1011", "1012", "1013"}, {"1004", "1007", ""}, {"", "", "1014"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build(rows) resolved users (-want +got):\n%s", diff)
	}
}

// TestBuildDoesNotAlias checks that changing the directory after Build does
// not change the plan.
func TestBuildDoesNotAlias(t *testing.T) {
	d := testDirectory("")
	p := plan.Build([]input.Row{row(2, "rep@x.example", "a@x.example", "")}, d, today())
	d.Users[3].Email = "changed@x.example"
	if got := p.Steps[0].User.Email; got != "rep@x.example" {
		t.Errorf("Build: step user email after changing the directory = %q, want %q", got, "rep@x.example")
	}
}

// TestBuildRequest checks what would be sent: booleans default to true
// when transfer_to is set, explicit values are kept, and a row that only
// moves subordinates sends no transfer.
func TestBuildRequest(t *testing.T) {
	set := func(r input.Row, records, assignment, criteria *bool) input.Row {
		r.Records, r.Assignment, r.Criteria = records, assignment, criteria
		return r
	}
	tests := []struct {
		name string
		row  input.Row
		want zoho.TransferRequest
	}{
		{"blank booleans are true", row(2, "rep@x.example", "a@x.example", ""),
			zoho.TransferRequest{UserID: "1004", Transfer: &zoho.Transfer{ToID: "1012", Records: true, Assignment: true, Criteria: true}}},
		{"explicit false kept", set(row(2, "rep@x.example", "a@x.example", ""), ptr(false), nil, ptr(false)),
			zoho.TransferRequest{UserID: "1004", Transfer: &zoho.Transfer{ToID: "1012", Records: false, Assignment: true, Criteria: false}}},
		{"explicit true kept", set(row(2, "rep@x.example", "a@x.example", ""), ptr(true), ptr(true), ptr(true)),
			zoho.TransferRequest{UserID: "1004", Transfer: &zoho.Transfer{ToID: "1012", Records: true, Assignment: true, Criteria: true}}},
		{"both targets", row(2, "mgr@x.example", "a@x.example", "vp2@x.example"),
			zoho.TransferRequest{UserID: "1003", Transfer: &zoho.Transfer{ToID: "1012", Records: true, Assignment: true, Criteria: true}, SubordinatesTo: "1016"}},
		{"subordinates only", set(row(2, "mgr@x.example", "", "vp2@x.example"), ptr(false), nil, nil),
			zoho.TransferRequest{UserID: "1003", SubordinatesTo: "1016"}},
		{"deferred rows carry their request", dated(row(2, "rep@x.example", "a@x.example", ""), input.Date{Year: 2026, Month: 1, Day: 1}),
			zoho.TransferRequest{UserID: "1004", Transfer: &zoho.Transfer{ToID: "1012", Records: true, Assignment: true, Criteria: true}}},
		{"invalid rows carry none", row(2, "rep@x.example", "idle@x.example", ""),
			zoho.TransferRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan.Build([]input.Row{tt.row}, testDirectory(""), today())
			if diff := cmp.Diff(tt.want, p.Steps[0].Request); diff != "" {
				t.Errorf("Build(%s) request (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	rows := []input.Row{
		row(2, "rep@x.example", "a@x.example", ""),
		row(3, "mgr@x.example", "a@x.example", ""),
		row(4, "gone@x.example", "a@x.example", ""),
		row(5, "", "a@x.example", ""),
		row(6, "who@x.example", "a@x.example", ""),
		dated(row(7, "b@x.example", "a@x.example", ""), input.Date{Year: 2026, Month: 1, Day: 1}),
	}
	got := plan.Build(rows, testDirectory(""), today()).Counts()
	want := map[result.Outcome]int{result.Planned: 2, result.Skipped: 1, result.Invalid: 2, result.Deferred: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counts() (-want +got):\n%s", diff)
	}
	if got := plan.Build(nil, testDirectory(""), today()); len(got.Steps) != 0 || len(got.Order) != 0 || len(got.Counts()) != 0 {
		t.Errorf("Build(no rows) = %+v, want no steps, no order and no counts", got)
	}
}

func TestCheckCaller(t *testing.T) {
	tests := []struct {
		name   string
		change func(*directory.Directory)
		errHas []string // nil: no error
	}{
		{"super admin", nil, nil},
		{"super admin by email without zuid", func(d *directory.Directory) {
			d.Caller.ZUID = ""
			d.Caller.Email = "Admin@X.example"
		}, nil},
		{"another admin", func(d *directory.Directory) { d.Caller = d.Users[1] },
			[]string{"the token belongs to Vp <vp@x.example>", "super admin, Admin <admin@x.example>"}},
		{"super admin not among users", func(d *directory.Directory) {
			d.Caller = d.Users[1]
			d.Users = d.Users[1:]
		}, []string{"Vp <vp@x.example>", "super admin, admin@x.example,"}},
		{"nobody", func(d *directory.Directory) {
			d.Caller = zoho.User{}
			d.Org.PrimaryEmail = ""
			d.Users = d.Users[1:]
		}, []string{"a user Zoho did not name", "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDirectory("")
			if tt.change != nil {
				tt.change(&d)
			}
			err := plan.CheckCaller(d)
			if tt.errHas == nil {
				if err != nil {
					t.Errorf("CheckCaller(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckCaller(%s) = nil, want an error", tt.name)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("CheckCaller(%s) = %q, want it to contain %q", tt.name, err, s)
				}
			}
			if msg := err.Error(); msg[0] < 'a' || msg[0] > 'z' {
				t.Errorf("CheckCaller(%s) = %q, want a lower-case start", tt.name, msg)
			}
		})
	}
}

// TestBuildConflictingDuplicates: two rows of one user that say different
// things are both invalid, since a person must choose; a row pasted twice
// leaves the first as it was judged.
func TestBuildConflictingDuplicates(t *testing.T) {
	tests := []struct {
		name   string
		rows   []input.Row
		want   []verdict
		msgHas [2]string // in the first row's message, the second's
	}{
		{"another transfer_to", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "rep@x.example", "b@x.example", "")},
			[]verdict{{2, result.Invalid, plan.CodeDuplicateRow}, {3, result.Invalid, plan.CodeDuplicateRow}},
			[2]string{`user "rep@x.example" appears again on row 3 with another transfer_to ("a@x.example" here, "b@x.example" there): neither row is planned`,
				`user "rep@x.example" also appears on row 2 with another transfer_to ("a@x.example" there, "b@x.example" here): neither row is planned`}},
		{"another move_subordinates_to", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "rep@x.example", "a@x.example", "ops@x.example")},
			[]verdict{{2, result.Invalid, plan.CodeDuplicateRow}, {3, result.Invalid, plan.CodeDuplicateRow}},
			[2]string{`another move_subordinates_to (blank here, "ops@x.example" there)`, `another move_subordinates_to (blank there, "ops@x.example" here)`}},
		{"another date", []input.Row{row(2, "rep@x.example", "a@x.example", ""), dated(row(3, "rep@x.example", "a@x.example", ""), input.Date{Year: 2025, Month: 7, Day: 1})},
			[]verdict{{2, result.Invalid, plan.CodeDuplicateRow}, {3, result.Invalid, plan.CodeDuplicateRow}},
			[2]string{"another effective_date (blank here, \"2025-07-01\" there)", ""}},
		{"pasted twice", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "1004", "1012", "")},
			[]verdict{{2, result.Planned, ""}, {3, result.Invalid, plan.CodeDuplicateRow}},
			[2]string{"", `already appears on row 2, as "rep@x.example": keep one row per user`}},
		{"first row invalid before duplicates", []input.Row{row(2, "rep@x.example", "", ""), row(3, "rep@x.example", "b@x.example", "")},
			[]verdict{{2, result.Invalid, plan.CodeMissingAction}, {3, result.Invalid, plan.CodeDuplicateRow}},
			[2]string{"neither transfer_to nor move_subordinates_to", "another transfer_to"}},
		{"three rows", []input.Row{row(2, "rep@x.example", "a@x.example", ""), row(3, "rep@x.example", "b@x.example", ""), row(4, "rep@x.example", "ops@x.example", "")},
			[]verdict{{2, result.Invalid, plan.CodeDuplicateRow}, {3, result.Invalid, plan.CodeDuplicateRow}, {4, result.Invalid, plan.CodeDuplicateRow}},
			[2]string{"appears again on row 3 with another transfer_to", ""}},
	}
	for _, tt := range tests {
		p := plan.Build(tt.rows, testDirectory(zoho.RoleHierarchy), today())
		if diff := cmp.Diff(tt.want, verdicts(p)); diff != "" {
			t.Errorf("%s: verdicts (-want +got):\n%s", tt.name, diff)
		}
		for i, w := range tt.msgHas {
			if !strings.Contains(p.Steps[i].Message, w) {
				t.Errorf("%s: row %d message = %q, want %q", tt.name, p.Steps[i].Line, p.Steps[i].Message, w)
			}
		}
		if len(p.Order) != 0 && tt.want[0].Outcome != result.Planned {
			t.Errorf("%s: order = %v, want nothing planned", tt.name, p.Order)
		}
	}
	// Row 4 of "three rows" says so, as row 3 does.
	p := plan.Build(tests[5].rows, testDirectory(zoho.RoleHierarchy), today())
	if m := p.Steps[0].Message; !strings.Contains(m, "row 3") || !strings.Contains(m, "row 4") {
		t.Errorf("three rows: row 2 message = %q, want it to name rows 3 and 4", m)
	}
}

// TestBuildDateTooFar: an effective_date more than a year ahead is more
// likely a typo than a plan.
func TestBuildDateTooFar(t *testing.T) {
	rows := []input.Row{
		dated(row(2, "rep@x.example", "a@x.example", ""), input.Date{Year: 2026, Month: time.June, Day: 15}), // a year to the day: deferred
		dated(row(3, "b@x.example", "a@x.example", ""), input.Date{Year: 2026, Month: time.June, Day: 16}),   // a day more
		dated(row(4, "c@x.example", "a@x.example", ""), input.Date{Year: 2099, Month: time.January, Day: 31}),
		dated(row(5, "nobody@x.example", "a@x.example", ""), input.Date{Year: 2099, Month: time.January, Day: 31}), // not found first
	}
	p := plan.Build(rows, testDirectory(zoho.RoleHierarchy), today())
	want := []verdict{
		{2, result.Deferred, plan.CodeNotDue},
		{3, result.Invalid, plan.CodeDateTooFar},
		{4, result.Invalid, plan.CodeDateTooFar},
		{5, result.Invalid, plan.CodeUserNotFound},
	}
	if diff := cmp.Diff(want, verdicts(p)); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	if m := p.Steps[2].Message; m != "effective_date 2099-01-31 is more than a year after today, 2025-06-15: is the year right? Correct it, or leave the row out until the year before" {
		t.Errorf("row 4 message = %q", m)
	}
}

// TestBuildTargetLeavesLater: a planned row whose target's own row is for
// a later day says so: the records will have to move again.
func TestBuildTargetLeavesLater(t *testing.T) {
	rows := []input.Row{
		row(2, "rep@x.example", "a@x.example", "b@x.example"),
		dated(row(3, "a@x.example", "ops@x.example", ""), input.Date{Year: 2025, Month: time.July, Day: 1}),
		dated(row(4, "b@x.example", "ops@x.example", ""), input.Date{Year: 2099, Month: time.July, Day: 1}),
	}
	p := plan.Build(rows, testDirectory(zoho.RoleHierarchy), today())
	if p.Steps[0].Outcome != result.Planned {
		t.Fatalf("row 2 = %s %s, want planned", p.Steps[0].Outcome, p.Steps[0].Code)
	}
	for _, w := range []string{
		"; note: transfer_to A <a@x.example> leaves later too (row 3, effective_date 2025-07-01), so these records will have to move again then",
		"; note: move_subordinates_to B <b@x.example> leaves later too (row 4, effective_date 2099-07-01), so these subordinates will have to move again then",
	} {
		if !strings.Contains(p.Steps[0].Message, w) {
			t.Errorf("row 2 message = %q, want %q", p.Steps[0].Message, w)
		}
	}
}

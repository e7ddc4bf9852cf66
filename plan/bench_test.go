package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"offboard/directory"
	"offboard/input"
	"offboard/plan"
	"offboard/result"
	"offboard/zoho"
)

func userID(i int) string    { return fmt.Sprintf("52104980%011d", i) }
func userEmail(i int) string { return fmt.Sprintf("user%05d@bench.example", i) }

// benchSheet is 10,000 rows against 5,000 users: 4,500 rows delete users in
// chains of ten (each transfers to the next row's user), the others are
// duplicates (by email in another case) and unknown users.
func benchSheet() ([]input.Row, directory.Directory) {
	const users, rows, deleted = 5000, 10000, 4500
	var d directory.Directory
	d.Org.PrimaryZUID = zoho.ID("9" + userID(0))
	d.Org.HierarchyPreferences.Type = zoho.RoleHierarchy
	d.Roles = []zoho.Role{{ID: roleCEO}, {ID: roleRep, ReportingTo: &zoho.Ref{ID: roleCEO}}}
	for i := range users {
		role := roleRep
		if i == 0 {
			role = roleCEO
		}
		d.Users = append(d.Users, active(userID(i), userEmail(i), role, userID(0)))
	}
	d.Caller = d.Users[0]
	rs := make([]input.Row, rows)
	for i := range rs {
		switch {
		case i < deleted:
			to := userEmail(i + 2)
			if i%10 == 9 {
				to = userID(deleted + 1 + i%400) // end of a chain: someone who stays
			}
			rs[i] = row(i+2, userEmail(i+1), to, userEmail(users-1))
		case i%2 == 0:
			rs[i] = row(i+2, strings.ToUpper(userEmail(i%deleted+1)), userEmail(users-1), "")
		default:
			rs[i] = row(i+2, fmt.Sprintf("gone%05d@bench.example", i), userEmail(users-1), "")
		}
	}
	return rs, d
}

func BenchmarkBuild(b *testing.B) {
	rows, d := benchSheet()
	var p *plan.Plan
	for b.Loop() {
		p = plan.Build(rows, d, today())
	}
	b.StopTimer()
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	c := p.Counts()
	if c[result.Planned] != 4500 || c[result.Invalid] != 5500 {
		b.Fatalf("Build(bench sheet) counts = %v, want 4500 planned and 5500 invalid", c)
	}
	chained := 0
	for _, st := range p.Steps {
		if len(st.After) > 0 {
			chained++
		}
	}
	if chained != 4050 {
		b.Fatalf("Build(bench sheet) = %d chained steps, want 4050", chained)
	}
}

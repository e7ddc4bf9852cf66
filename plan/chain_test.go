package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/input"
	"offboard/plan"
	"offboard/result"
)

// chain is what the chain tests compare: verdicts, each step's After as row
// numbers, and the order as row numbers.
type chain struct {
	Verdicts []verdict
	After    map[int][]int
	Order    []int
}

func chainOf(p *plan.Plan) chain {
	c := chain{Verdicts: verdicts(p), After: map[int][]int{}, Order: lines(p, p.Order)}
	for _, st := range p.Steps {
		if len(st.After) > 0 {
			c.After[st.Line] = lines(p, st.After)
		}
	}
	return c
}

func TestBuildChains(t *testing.T) {
	later := input.Date{Year: 2026, Month: 1, Day: 1}
	tests := []struct {
		name string
		rows []input.Row
		want chain
	}{
		{
			name: "A to B to C: C goes last",
			rows: []input.Row{
				row(2, "b@x.example", "c@x.example", ""),
				row(3, "c@x.example", "d@x.example", ""),
				row(4, "a@x.example", "b@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Planned, ""}, {3, result.Planned, ""}, {4, result.Planned, ""}},
				After:    map[int][]int{2: {4}, 3: {2}},
				Order:    []int{4, 2, 3},
			},
		},
		{
			name: "subordinates make edges too, one per target user",
			rows: []input.Row{
				row(2, "a@x.example", "b@x.example", "b@x.example"),
				row(3, "c@x.example", "rep@x.example", "b@x.example"),
				row(4, "b@x.example", "d@x.example", ""),
				row(5, "rep@x.example", "d@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Planned, ""}, {3, result.Planned, ""}, {4, result.Planned, ""}, {5, result.Planned, ""}},
				After:    map[int][]int{4: {2, 3}, 5: {3}},
				Order:    []int{2, 3, 4, 5},
			},
		},
		{
			name: "2-cycle",
			rows: []input.Row{
				row(2, "a@x.example", "b@x.example", ""),
				row(3, "b@x.example", "a@x.example", ""),
				row(4, "c@x.example", "d@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Invalid, plan.CodeTransferCycle}, {3, result.Invalid, plan.CodeTransferCycle}, {4, result.Planned, ""}},
				After:    map[int][]int{},
				Order:    []int{4},
			},
		},
		{
			name: "3-cycle through a subordinates target",
			rows: []input.Row{
				row(2, "a@x.example", "b@x.example", ""),
				row(3, "b@x.example", "ops@x.example", "c@x.example"),
				row(4, "c@x.example", "a@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Invalid, plan.CodeTransferCycle}, {3, result.Invalid, plan.CodeTransferCycle}, {4, result.Invalid, plan.CodeTransferCycle}},
				After:    map[int][]int{},
			},
		},
		{
			name: "a cycle with dependants on both sides",
			rows: []input.Row{
				row(2, "d@x.example", "a@x.example", ""),            // transfers into the cycle: a stays, so d goes ahead
				row(3, "a@x.example", "b@x.example", ""),            // cycle
				row(4, "b@x.example", "a@x.example", "c@x.example"), // cycle, and also to c
				row(5, "c@x.example", "ops@x.example", ""),          // c waited for b; b is out, so c is free
				row(6, "rep@x.example", "d@x.example", ""),          // a chain outside the cycle remains
			},
			want: chain{
				Verdicts: []verdict{{2, result.Planned, ""}, {3, result.Invalid, plan.CodeTransferCycle}, {4, result.Invalid, plan.CodeTransferCycle}, {5, result.Planned, ""}, {6, result.Planned, ""}},
				After:    map[int][]int{2: {6}},
				Order:    []int{5, 6, 2},
			},
		},
		{
			name: "two cycles sharing nothing, and a chain between",
			rows: []input.Row{
				row(2, "a@x.example", "b@x.example", ""),
				row(3, "b@x.example", "a@x.example", ""),
				row(4, "c@x.example", "d@x.example", ""),
				row(5, "d@x.example", "c@x.example", ""),
				row(6, "rep@x.example", "mgr@x.example", ""),
				row(7, "mgr@x.example", "vp@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{
					{2, result.Invalid, plan.CodeTransferCycle}, {3, result.Invalid, plan.CodeTransferCycle},
					{4, result.Invalid, plan.CodeTransferCycle}, {5, result.Invalid, plan.CodeTransferCycle},
					{6, result.Planned, ""}, {7, result.Planned, ""},
				},
				After: map[int][]int{7: {6}},
				Order: []int{6, 7},
			},
		},
		{
			name: "deferred target makes no edge",
			rows: []input.Row{
				dated(row(2, "b@x.example", "c@x.example", ""), later),
				row(3, "a@x.example", "b@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Deferred, plan.CodeNotDue}, {3, result.Planned, ""}},
				After:    map[int][]int{},
				Order:    []int{3},
			},
		},
		{
			name: "a deferred row breaks what would be a cycle",
			rows: []input.Row{
				row(2, "a@x.example", "b@x.example", ""),
				dated(row(3, "b@x.example", "a@x.example", ""), later),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Planned, ""}, {3, result.Deferred, plan.CodeNotDue}},
				After:    map[int][]int{},
				Order:    []int{2},
			},
		},
		{
			name: "invalid and skipped targets make no edge",
			rows: []input.Row{
				row(2, "b@x.example", "idle@x.example", ""),
				row(3, "a@x.example", "b@x.example", ""),
				row(4, "c@x.example", "gone@x.example", ""),
			},
			want: chain{
				Verdicts: []verdict{{2, result.Invalid, plan.CodeTargetInactive}, {3, result.Planned, ""}, {4, result.Invalid, plan.CodeTargetDeleted}},
				After:    map[int][]int{},
				Order:    []int{3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan.Build(tt.rows, testDirectory(""), today())
			if diff := cmp.Diff(tt.want, chainOf(p)); diff != "" {
				t.Errorf("Build(%s) (-want +got):\n%s", tt.name, diff)
			}
			checkOrder(t, p)
		})
	}
}

// checkOrder checks the invariants of Order: every planned step once, each
// after the steps it waits for.
func checkOrder(t *testing.T, p *plan.Plan) {
	t.Helper()
	pos := map[int]int{}
	for k, i := range p.Order {
		if _, dup := pos[i]; dup {
			t.Errorf("Build: step %d twice in Order %v", i, p.Order)
		}
		pos[i] = k
	}
	for i, st := range p.Steps {
		k, in := pos[i]
		if in != (st.Outcome == result.Planned) {
			t.Errorf("Build: step %d (%s) in Order = %v, want %v", i, st.Outcome, in, st.Outcome == result.Planned)
		}
		for _, a := range st.After {
			if pos[a] >= k {
				t.Errorf("Build: step %d comes at %d in Order, before step %d it waits for", i, k, a)
			}
		}
	}
}

func TestBuildChainMessages(t *testing.T) {
	rows := []input.Row{
		row(2, "a@x.example", "b@x.example", ""),
		row(3, "c@x.example", "", "b@x.example"),
		row(4, "b@x.example", "d@x.example", ""),
		dated(row(5, "ops@x.example", "a@x.example", ""), input.Date{Year: 2026, Month: 1, Day: 1}),
		row(6, "mgr@x.example", "rep@x.example", ""),
		row(7, "rep@x.example", "vp2@x.example", ""),
		row(8, "vp2@x.example", "mgr@x.example", ""),
	}
	p := plan.Build(rows, testDirectory(""), today())
	tests := []struct {
		line int
		has  string
	}{
		{4, "once the jobs of rows 2 and 3, which transfer to this user, have completed"},
		{5, "run the row again on or after that day, and before then choose another transfer_to: A <a@x.example> is deleted by row 2 in this run"},
		{6, "rows 6, 7 and 8 each transfer to a user whom another of them deletes"},
		{8, "rows 6, 7 and 8"},
	}
	for _, tt := range tests {
		if got := p.Steps[tt.line-2].Message; !strings.Contains(got, tt.has) {
			t.Errorf("Build: row %d message = %q, want it to contain %q", tt.line, got, tt.has)
		}
	}
}

// TestBuildLongChain checks a chain longer than any recursion would like,
// and a cycle through all of it.
func TestBuildLongChain(t *testing.T) {
	const n = 20000
	d := testDirectory("")
	d.Users = d.Users[:0]
	d.Users = append(d.Users, active("1001", "admin@x.example", roleCEO, ""))
	for i := range n + 1 {
		d.Users = append(d.Users, active(userID(i), userEmail(i), roleRep, ""))
	}
	rows := make([]input.Row, n)
	for i := range rows {
		// Row i deletes user i+1 and transfers to user i: the last row
		// must go first.
		rows[i] = row(i+2, userEmail(i+1), userEmail(i), "")
	}
	p := plan.Build(rows, d, today())
	if got := p.Order[0]; got != n-1 {
		t.Errorf("Build(chain of %d) Order[0] = %d, want %d", n, got, n-1)
	}
	checkOrder(t, p)

	rows[0] = row(2, userEmail(1), userEmail(n), "") // close the circle
	p = plan.Build(rows, d, today())
	if got := p.Counts()[result.Invalid]; got != n {
		t.Errorf("Build(cycle of %d) invalid = %d, want %d", n, got, n)
	}
	if got := p.Steps[0].Message; !strings.Contains(got, "and 19990 more") {
		t.Errorf("Build(cycle of %d) message = %q, want it to cap the rows it lists", n, got)
	}
}

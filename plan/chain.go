package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"offboard/result"
	"offboard/zoho"
)

// none marks an absent edge.
const none = -1

// link draws the chains among planned steps (A transfers to B, whom B's
// row deletes: B's step waits for A's), turns the steps of every cycle
// invalid, orders what is left, and writes the messages that depend on the
// rest of the batch.
func link(p *Plan) {
	steps := p.Steps
	deletedBy := make(map[zoho.ID]int) // user → the planned step that deletes them
	for i := range steps {
		if steps[i].Outcome == result.Planned {
			deletedBy[steps[i].User.ID] = i
		}
	}
	// Each step has at most two targets, hence at most two edges.
	out := make([][2]int, len(steps))
	for i := range steps {
		out[i] = [2]int{none, none}
		if steps[i].Outcome != result.Planned {
			continue
		}
		for k, t := range [2]*zoho.User{steps[i].TransferTo, steps[i].SubordinatesTo} {
			if t == nil {
				continue
			}
			if j, ok := deletedBy[t.ID]; ok && j != i && (k == 0 || out[i][0] != j) {
				out[i][k] = j
			}
		}
	}

	for _, cycle := range cycles(out, func(i int) bool { return steps[i].Outcome == result.Planned }) {
		msg := cycleMessage(steps, cycle)
		for _, i := range cycle {
			steps[i].Outcome, steps[i].Code, steps[i].Message = result.Invalid, CodeTransferCycle, msg
			steps[i].Request = zoho.TransferRequest{}
		}
	}

	// The edges among the planned steps left. Taking the steps in input
	// order keeps every After sorted.
	next := make([][]int, len(steps))
	for i := range steps {
		if steps[i].Outcome != result.Planned {
			continue
		}
		for _, j := range out[i] {
			if j != none && steps[j].Outcome == result.Planned {
				steps[j].After = append(steps[j].After, i)
				next[i] = append(next[i], j)
			}
		}
	}
	p.Order = order(steps, next)

	// Users whose own row leaves them for a later day.
	leavesLater := make(map[zoho.ID]int)
	for i := range steps {
		if (steps[i].Code == CodeNotDue || steps[i].Code == CodeDateTooFar) && steps[i].User != nil {
			if _, ok := leavesLater[steps[i].User.ID]; !ok {
				leavesLater[steps[i].User.ID] = i
			}
		}
	}
	for i := range steps {
		switch steps[i].Outcome {
		case result.Planned:
			steps[i].Message = plannedMessage(steps, i) + leavingLater(steps, i, leavesLater)
		case result.Deferred:
			steps[i].Message = deferredMessage(steps, i, deletedBy)
		}
	}
}

// cycles returns the strongly connected components of more than one step
// in the graph of planned steps: every step in one lies on a cycle. This is
// Tarjan's algorithm, with an explicit stack so that a chain of 10,000 rows
// cannot exhaust the goroutine's.
func cycles(out [][2]int, planned func(int) bool) [][]int {
	n := len(out)
	num := make([]int, n) // order of discovery, from 1; 0 is unvisited
	low := make([]int, n)
	onStack := make([]bool, n)
	var (
		stack  []int
		found  [][]int
		count  int
		frames []struct{ v, e int }
	)
	visit := func(v int) {
		count++
		num[v], low[v] = count, count
		stack = append(stack, v)
		onStack[v] = true
		frames = append(frames, struct{ v, e int }{v, 0})
	}
	for s := range n {
		if num[s] != 0 || !planned(s) {
			continue
		}
		visit(s)
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			v := f.v
			if f.e < len(out[v]) {
				w := out[v][f.e]
				f.e++
				switch {
				case w == none:
				case num[w] == 0:
					visit(w)
				case onStack[w]:
					low[v] = min(low[v], num[w])
				}
				continue
			}
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				u := frames[len(frames)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] != num[v] {
				continue
			}
			k := len(stack) - 1
			for stack[k] != v {
				k--
			}
			if len(stack)-k > 1 {
				found = append(found, append([]int(nil), stack[k:]...))
			}
			for _, w := range stack[k:] {
				onStack[w] = false
			}
			stack = stack[:k]
		}
	}
	return found
}

// order returns the planned steps so that each comes after the steps in
// its After, and otherwise in input order: of the steps free to go, the
// earliest row goes first (Kahn's algorithm with a min-heap).
func order(steps []Step, next [][]int) []int {
	waiting := make([]int, len(steps))
	var free minHeap
	for i := range steps {
		if steps[i].Outcome != result.Planned {
			continue
		}
		waiting[i] = len(steps[i].After)
		if waiting[i] == 0 {
			free.push(i)
		}
	}
	var ord []int
	for len(free) > 0 {
		i := free.pop()
		ord = append(ord, i)
		for _, j := range next[i] {
			if waiting[j]--; waiting[j] == 0 {
				free.push(j)
			}
		}
	}
	return ord
}

// minHeap is a heap of step indexes, smallest on top.
type minHeap []int

func (h *minHeap) push(i int) {
	*h = append(*h, i)
	s := *h
	for c := len(s) - 1; c > 0; {
		p := (c - 1) / 2
		if s[p] <= s[c] {
			break
		}
		s[p], s[c] = s[c], s[p]
		c = p
	}
}

func (h *minHeap) pop() int {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for p := 0; ; {
		c := 2*p + 1
		if c >= len(s) {
			break
		}
		if c+1 < len(s) && s[c+1] < s[c] {
			c++
		}
		if s[p] <= s[c] {
			break
		}
		s[p], s[c] = s[c], s[p]
		p = c
	}
	*h = s
	return top
}

// maxRowsNamed bounds the rows a message lists, so that a cycle through
// thousands of rows does not make every one of their messages a page long.
const maxRowsNamed = 10

// rowList names rows by their line: "rows 2, 5 and 9".
func rowList(steps []Step, idx []int) string {
	lines := make([]int, len(idx))
	for k, i := range idx {
		lines[k] = steps[i].Line
	}
	// idx is not sorted for a cycle; lines are shown in sheet order.
	slices.Sort(lines)
	if len(lines) == 1 {
		return "row " + strconv.Itoa(lines[0])
	}
	var b strings.Builder
	b.WriteString("rows ")
	shown := min(len(lines), maxRowsNamed)
	for k := range shown {
		switch {
		case k == 0:
		case k == len(lines)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(lines[k]))
	}
	if shown < len(lines) {
		fmt.Fprintf(&b, " and %d more", len(lines)-shown)
	}
	return b.String()
}

func cycleMessage(steps []Step, cycle []int) string {
	return fmt.Sprintf("%s each transfer to a user whom another of them deletes, in a circle, so none can go first: give one of them a target outside the circle", rowList(steps, cycle))
}

// plannedMessage says what will happen, and what it waits for.
func plannedMessage(steps []Step, i int) string {
	st := &steps[i]
	var b strings.Builder
	b.WriteString("delete ")
	b.WriteString(describe(st.User))
	if t := st.Request.Transfer; t != nil {
		var kinds []string
		for _, k := range []struct {
			on   bool
			name string
		}{{t.Records, "records"}, {t.Assignment, "assignment"}, {t.Criteria, "criteria"}} {
			if k.on {
				kinds = append(kinds, k.name)
			}
		}
		if len(kinds) == 0 {
			fmt.Fprintf(&b, ", naming %s as transfer target for none of records, assignment or criteria", describe(st.TransferTo))
		} else {
			fmt.Fprintf(&b, ", transferring %s to %s", andList(kinds), describe(st.TransferTo))
		}
	}
	if st.SubordinatesTo != nil {
		fmt.Fprintf(&b, ", moving subordinates to %s", describe(st.SubordinatesTo))
	}
	switch len(st.After) {
	case 0:
	case 1:
		fmt.Fprintf(&b, ", once the job of %s, which transfers to this user, has completed", rowList(steps, st.After))
	default:
		fmt.Fprintf(&b, ", once the jobs of %s, which transfer to this user, have completed", rowList(steps, st.After))
	}
	return b.String()
}

// leavingLater warns a planned step that hands records or subordinates to
// someone whose own row in this sheet is for a later day: they will have
// to be moved again then.
func leavingLater(steps []Step, i int, leavesLater map[zoho.ID]int) string {
	st := &steps[i]
	var b strings.Builder
	for _, t := range []struct {
		column, what string
		user         *zoho.User
	}{{colTransferTo, "records", st.TransferTo}, {colSubordinatesTo, "subordinates", st.SubordinatesTo}} {
		if t.user == nil {
			continue
		}
		j, ok := leavesLater[t.user.ID]
		if !ok || j == i {
			continue
		}
		fmt.Fprintf(&b, "; note: %s %s leaves later too (row %d, effective_date %s), so these %s will have to move again then", t.column, describe(t.user), steps[j].Line, steps[j].effective, t.what)
	}
	return b.String()
}

// deferredMessage adds to check's message a warning when a target will be
// gone by the effective date, because this run deletes them.
func deferredMessage(steps []Step, i int, deletedBy map[zoho.ID]int) string {
	st := &steps[i]
	msg := st.Message
	for _, t := range []struct {
		column string
		user   *zoho.User
	}{{colTransferTo, st.TransferTo}, {colSubordinatesTo, st.SubordinatesTo}} {
		if t.user == nil {
			continue
		}
		if j, ok := deletedBy[t.user.ID]; ok && steps[j].Outcome == result.Planned {
			msg += fmt.Sprintf(", and before then choose another %s: %s is deleted by row %d in this run", t.column, describe(t.user), steps[j].Line)
			break
		}
	}
	return msg
}

func andList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

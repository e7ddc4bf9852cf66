package plan_test

import (
	"fmt"
	"time"

	"offboard/directory"
	"offboard/input"
	"offboard/plan"
	"offboard/zoho"
)

// Ann's records go to Bo, whom the sheet also deletes: Bo's step waits for
// Ann's, and the order says so.
func ExampleBuild() {
	dir := directory.Directory{
		Users: []zoho.User{
			{ID: "1001", ZUID: "91001", Email: "chief@example.com", FullName: "Chief", Status: zoho.StatusActive, Confirm: true},
			{ID: "1002", Email: "bo@example.com", FullName: "Bo", Status: zoho.StatusActive, Confirm: true},
			{ID: "1003", Email: "ann@example.com", FullName: "Ann", Status: zoho.StatusActive, Confirm: true},
			{ID: "1004", Email: "cy@example.com", FullName: "Cy", Status: zoho.StatusInactive, Confirm: true},
		},
	}
	dir.Org.PrimaryZUID = "91001"
	dir.Caller = dir.Users[0]
	if err := plan.CheckCaller(dir); err != nil {
		fmt.Println(err)
		return
	}
	email := func(s string) input.Ref { return input.Ref{Raw: s, Email: s} }
	rows := []input.Row{
		{Line: 2, User: email("bo@example.com"), TransferTo: email("chief@example.com")},
		{Line: 3, User: email("Ann@Example.com"), TransferTo: email("bo@example.com")},
		{Line: 4, User: email("chief@example.com"), TransferTo: email("cy@example.com")},
	}
	p := plan.Build(rows, dir, input.DateOf(time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)))
	for _, st := range p.Steps {
		fmt.Printf("row %d %s %s: %s\n", st.Line, st.Outcome, st.Code, st.Message)
	}
	fmt.Println("order:", p.Order)
	// Output:
	// row 2 planned : delete Bo <bo@example.com>, transferring records, assignment and criteria to Chief <chief@example.com>, once the job of row 3, which transfers to this user, has completed
	// row 3 planned : delete Ann <ann@example.com>, transferring records, assignment and criteria to Bo <bo@example.com>
	// row 4 invalid SUPER_ADMIN: user "chief@example.com" (Chief) is the org's super admin, whom Zoho does not let anyone delete: remove the row
	// order: [1 0]
}

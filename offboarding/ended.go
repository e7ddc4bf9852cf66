package offboarding

import (
	"slices"

	"offboard/result"
)

// Ended is what a run leaves once its results file is written: its rows,
// the org it was checked against and the file. RunOptions.Ended receives
// it (offboard run --notify).
type Ended struct {
	// Rows are the rows as the results file holds them.
	Rows []result.Row
	// OrgName and OrgID name the org; Sandbox says it was the built-in
	// demo org.
	OrgName, OrgID string
	Sandbox        bool
	// Output is the results file's path.
	Output string
}

// ended gives o.Ended what the run leaves, if it asked.
func (o RunOptions) ended(p *prepared, rows []result.Row, output string) {
	if o.Ended == nil {
		return
	}
	o.Ended(Ended{Rows: slices.Clone(rows), OrgName: p.dir.Org.CompanyName, OrgID: p.orgID(), Sandbox: p.conn.sandbox != nil, Output: output})
}

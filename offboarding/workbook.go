package offboarding

import (
	"math"
	"strings"
	"time"

	"offboard/journal"
	"offboard/report"
	"offboard/result"
	"offboard/runner"
)

// results are the plan's row results as the results workbook shows them:
// with the emails of the users who receive the records and the
// subordinates, beside their IDs.
func (p *prepared) results() []result.Row {
	rows := p.plan.Results(p.sheet.Rows)
	for i := range rows {
		st := &p.plan.Steps[i]
		if st.TransferTo != nil {
			rows[i].TransferToEmail = st.TransferTo.Email
		}
		if st.SubordinatesTo != nil {
			rows[i].SubordinatesToEmail = st.SubordinatesTo.Email
		}
	}
	return rows
}

// admin is the user whose token runs the command, as the journal keeps it.
func (p *prepared) admin() *journal.Admin {
	c := p.dir.Caller
	name := c.FullName
	if name == "" {
		name = strings.TrimSpace(c.FirstName + " " + c.LastName)
	}
	if c.ID == "" && c.Email == "" && name == "" {
		return nil
	}
	return &journal.Admin{ID: string(c.ID), Email: c.Email, Name: name}
}

// settings are what the run was told that bears on what it did, for its
// Summary and its journal: the limits and guards of its command line.
func (o RunOptions) settings() *report.Settings {
	eff := runner.Options{MaxJobs: o.MaxJobs, JobTimeout: o.JobTimeout}.Effective()
	s := &report.Settings{
		MaxJobs: eff.MaxJobs, Concurrency: o.Conn.Client.MaxInFlight,
		Strict: o.Strict, MaxDeletes: o.MaxDeletes, JobTimeout: eff.JobTimeout, NoWait: o.NoWait,
	}
	if l := o.Conn.Client.Limiter; l != nil && !math.IsInf(float64(l.Limit()), 0) {
		s.Rate = float64(l.Limit())
	}
	return s
}

// journalSettings are the settings as the journal's start record keeps
// them (the job timeout is a field of its own there).
func journalSettings(s *report.Settings) *journal.Settings {
	if s == nil {
		return nil
	}
	return &journal.Settings{MaxJobs: s.MaxJobs, Rate: s.Rate, Concurrency: s.Concurrency,
		Strict: s.Strict, MaxDeletes: s.MaxDeletes, NoWait: s.NoWait}
}

// reportSettings are the settings a journal's start record keeps, for a
// rebuilt Summary; nil (blank) for a journal of an older offboard.
func reportSettings(start *journal.Record) *report.Settings {
	j := start.Settings
	if j == nil {
		return nil
	}
	s := &report.Settings{MaxJobs: j.MaxJobs, Rate: j.Rate, Concurrency: j.Concurrency,
		Strict: j.Strict, MaxDeletes: j.MaxDeletes, NoWait: j.NoWait}
	s.JobTimeout, _ = time.ParseDuration(start.JobTimeout)
	return s
}

// withAdmin sets the Summary's admin.
func withAdmin(s *report.Summary, a *journal.Admin) {
	if a != nil {
		s.AdminName, s.AdminEmail, s.AdminID = a.Name, a.Email, a.ID
	}
}

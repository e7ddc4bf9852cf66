package offboarding

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"offboard/directory"
	"offboard/report"
	"offboard/termtext"
	"offboard/zoho"

	"github.com/gocarina/gocsv"
)

// UsersOptions are the options of offboard users.
type UsersOptions struct {
	Conn Connection
	Log  LogConfig
	// Type is the users to list; "" means every user.
	Type zoho.UserType
	// CSV writes a sheet to start from rather than a table.
	CSV bool
}

// Users lists the org's users: the IDs and emails an offboarding sheet
// refers to, and who the super admin is.
func Users(ctx context.Context, ios IO, o UsersOptions) error {
	log := o.Log.Logger(ios.Err, ios.ErrTerminal)
	c, err := o.Conn.connect(log)
	if err != nil {
		return err
	}
	defer c.Close()
	typ := o.Type
	if typ == "" {
		typ = zoho.AllUsers
	}
	var org zoho.Org
	err = c.pacer.Read(ctx, log, "read the org", func(ctx context.Context) (err error) {
		org, err = c.client.Org(ctx)
		return err
	})
	if err != nil {
		return interrupted(ctx, err)
	}
	users, err := directory.ListUsers(ctx, c.client, typ, c.pacer, log)
	if err != nil {
		return interrupted(ctx, err)
	}
	sort.SliceStable(users, func(i, j int) bool { return strings.ToLower(users[i].Email) < strings.ToLower(users[j].Email) })
	if o.CSV {
		return writeUsersCSV(ios.Out, org, users, ios.OutTerminal)
	}
	return writeUsersTable(ios.Out, org, users, string(typ))
}

// ParseUserType returns the type of user t names, ignoring case, "-" and
// "_", with or without its "Users" ending: "deleted", "DeletedUsers" and
// "deleted-users" are all DeletedUsers.
func ParseUserType(t string) (zoho.UserType, bool) {
	norm := func(s string) string {
		return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	}
	want := norm(t)
	if want == "" {
		return "", false
	}
	for _, u := range zoho.UserTypes {
		name := norm(string(u))
		if want == name || want == strings.TrimSuffix(name, "users") || want == strings.TrimSuffix(name, "user") {
			return u, true
		}
	}
	return "", false
}

// userLine is one user as offboard users lists them.
type userLine struct {
	ID        cell `csv:"ID"`
	Email     cell `csv:"Email"`
	Name      cell `csv:"Name"`
	Status    cell `csv:"Status"`
	Confirmed cell `csv:"Confirmed"`
	Role      cell `csv:"Role"`
	Profile   cell `csv:"Profile"`
	ReportsTo cell `csv:"Reports To"`
	Note      cell `csv:"Note"`
}

// cell is a value of a sheet offboard writes: in CSV, one that a
// spreadsheet would read as a formula is written as text.
type cell string

// MarshalCSV implements gocsv.TypeMarshaller.
func (c cell) MarshalCSV() (string, error) { return report.CSVText(string(c)), nil }

func userLineOf(org zoho.Org, u zoho.User) userLine {
	name := u.FullName
	if name == "" {
		name = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	note := ""
	if org.IsSuperAdmin(u) {
		note = "super admin"
	}
	return userLine{cell(u.ID), cell(u.Email), cell(name), cell(u.Status), cell(strconv.FormatBool(u.Confirm)),
		cell(refName(u.Role)), cell(refName(u.Profile)), cell(refName(u.ReportingTo)), cell(note)}
}

func (l userLine) cells() []string {
	return []string{string(l.ID), string(l.Email), string(l.Name), string(l.Status), string(l.Confirmed),
		string(l.Role), string(l.Profile), string(l.ReportsTo), string(l.Note)}
}

var userColumns = []string{"ID", "Email", "Name", "Status", "Confirmed", "Role", "Profile", "Reports To", "Note"}

func writeUsersTable(w io.Writer, org zoho.Org, users []zoho.User, typ string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(userColumns, "\t"))
	for _, u := range users {
		cells := userLineOf(org, u).cells()
		for i, c := range cells {
			cells[i] = termtext.Line(c) // a name may hold escape sequences
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	company := org.CompanyName
	if company == "" {
		company = "the org"
	}
	_, err := fmt.Fprintf(w, "\n%d users (%s) in %s; hierarchy: %s\n", len(users), typ, termtext.Line(company), org.Hierarchy())
	return err
}

// writeUsersCSV writes the users as a sheet to start an offboarding from.
func writeUsersCSV(w io.Writer, org zoho.Org, users []zoho.User, terminal bool) error {
	lines := make([]userLine, len(users))
	for i, u := range users {
		lines[i] = userLineOf(org, u)
		if terminal {
			// Shown, not written to a file: escape sequences in a name
			// must not reach the terminal.
			l := &lines[i]
			for _, c := range []*cell{&l.ID, &l.Email, &l.Name, &l.Status, &l.Confirmed, &l.Role, &l.Profile, &l.ReportsTo, &l.Note} {
				*c = cell(termtext.Line(string(*c)))
			}
		}
	}
	return gocsv.Marshal(lines, w)
}

func refName(r *zoho.Ref) string {
	if r == nil {
		return ""
	}
	return r.Name
}

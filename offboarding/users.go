package offboarding

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"offboard/directory"
	"offboard/zoho"
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
		return writeUsersCSV(ios.Out, org, users)
	}
	return writeUsersTable(ios.Out, org, users, string(typ))
}

// ValidUserType reports whether t names a type of user offboard can list.
func ValidUserType(t string) bool {
	for _, u := range zoho.UserTypes {
		if string(u) == t {
			return true
		}
	}
	return false
}

func userRow(org zoho.Org, u zoho.User) []string {
	name := u.FullName
	if name == "" {
		name = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	note := ""
	if org.IsSuperAdmin(u) {
		note = "super admin"
	}
	return []string{string(u.ID), u.Email, name, u.Status, strconv.FormatBool(u.Confirm),
		refName(u.Role), refName(u.Profile), refName(u.ReportingTo), note}
}

var userColumns = []string{"ID", "Email", "Name", "Status", "Confirmed", "Role", "Profile", "Reports To", "Note"}

func writeUsersTable(w io.Writer, org zoho.Org, users []zoho.User, typ string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(userColumns, "\t"))
	for _, u := range users {
		fmt.Fprintln(tw, strings.Join(userRow(org, u), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	company := org.CompanyName
	if company == "" {
		company = "the org"
	}
	_, err := fmt.Fprintf(w, "\n%d users (%s) in %s; hierarchy: %s\n", len(users), typ, company, org.Hierarchy())
	return err
}

func writeUsersCSV(w io.Writer, org zoho.Org, users []zoho.User) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(userColumns); err != nil {
		return err
	}
	for _, u := range users {
		row := userRow(org, u)
		for i, cell := range row {
			row[i] = csvSafe(cell)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func refName(r *zoho.Ref) string {
	if r == nil {
		return ""
	}
	return r.Name
}

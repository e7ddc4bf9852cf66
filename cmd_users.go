package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"offboard/zoho"
)

// runUsers lists the org's users: the IDs and emails an offboarding sheet
// refers to, and who the super admin is.
func runUsers(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "users", "[--sandbox] [--type TYPE] [--format table|csv]")
	var (
		conn   connFlags
		logs   logFlags
		typ    string
		format string
	)
	conn.register(fs)
	logs.register(fs)
	var types []string
	for _, t := range zoho.UserTypes {
		types = append(types, string(t))
	}
	fs.StringVar(&typ, "type", string(zoho.AllUsers), "which users: "+strings.Join(types, ", "))
	fs.StringVar(&format, "format", "table", "output format: table or csv")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !validUserType(typ) {
		return usageError{fmt.Sprintf("--type %q: want one of %s", typ, strings.Join(types, ", "))}
	}
	if format != "table" && format != "csv" {
		return usageError{fmt.Sprintf("--format %q: want table or csv", format)}
	}
	log, err := logs.logger(e.stderr)
	if err != nil {
		return err
	}
	c, err := conn.connect(e, log)
	if err != nil {
		return fatal(err)
	}
	defer c.Close()

	org, err := c.client.Org(ctx)
	if err != nil {
		return fatal(fmt.Errorf("read the org: %w", err))
	}
	users, err := c.client.Users(ctx, zoho.UserType(typ))
	if err != nil {
		return fatal(fmt.Errorf("list users: %w", err))
	}
	sort.SliceStable(users, func(i, j int) bool { return strings.ToLower(users[i].Email) < strings.ToLower(users[j].Email) })
	if format == "csv" {
		return writeUsersCSV(e.stdout, org, users)
	}
	return writeUsersTable(e.stdout, org, users, typ)
}

func validUserType(t string) bool {
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

package main

import (
	"context"
	"fmt"
	"strings"

	"offboard/offboarding"
	"offboard/zoho"
)

// runUsers lists the org's users.
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
	fs.StringVar(&typ, "type", string(zoho.AllUsers), "which users: "+strings.Join(types, ", ")+", in any case, \"Users\" optional (deleted, active, admin)")
	fs.StringVar(&format, "format", "table", "output format: table or csv")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	userType, ok := offboarding.ParseUserType(typ)
	if !ok {
		return usageError{fmt.Sprintf("--type %q: want one of %s (any case; \"deleted\" for DeletedUsers)", typ, strings.Join(types, ", "))}
	}
	if format != "table" && format != "csv" {
		return usageError{fmt.Sprintf("--format %q: want table or csv", format)}
	}
	lc, err := logs.config()
	if err != nil {
		return err
	}
	cn, err := conn.connection(e)
	if err != nil {
		return err
	}
	return offboarding.Users(ctx, e.streams(), offboarding.UsersOptions{Conn: cn, Log: lc, Type: userType, CSV: format == "csv"})
}

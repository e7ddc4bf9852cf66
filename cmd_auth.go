package main

import (
	"context"
	"fmt"

	"offboard/offboarding"
	"offboard/zoho"
)

// runAuth exchanges a Self Client grant code for a refresh token.
func runAuth(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "auth", "--code GRANT_CODE [--save FILE] [--dc DC]")
	var (
		code, save string
		conn       connFlags
	)
	fs.StringVar(&code, "code", "", "the grant code from the Zoho API console's Self Client (Generate Code); it lasts a few minutes")
	fs.StringVar(&save, "save", "", "write the credentials to FILE (mode 0600) for --credentials, instead of printing the refresh token")
	fs.StringVar(&conn.dc, "dc", "", "Zoho data centre of the Self Client (env ZOHO_DC; default us)")
	fs.StringVar(&conn.accountsURL, "accounts-url", "", "accounts server base URL, overriding --dc (env ZOHO_ACCOUNTS_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if code == "" {
		return usageError{"missing --code GRANT_CODE"}
	}
	cfg := zoho.Config{
		ClientID:     e.getenv("ZOHO_CLIENT_ID"),
		ClientSecret: e.getenv("ZOHO_CLIENT_SECRET"),
		DC:           firstNonEmpty(conn.dc, e.getenv("ZOHO_DC")),
		AccountsURL:  firstNonEmpty(conn.accountsURL, e.getenv("ZOHO_ACCOUNTS_URL")),
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return fatal(fmt.Errorf("set ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET to the Self Client's client id and secret"))
	}
	return offboarding.Auth(ctx, e.streams(), offboarding.AuthOptions{Client: cfg, Code: code, Save: save})
}

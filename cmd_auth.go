package main

import (
	"context"
	"fmt"

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
	grant, err := zoho.ExchangeGrantCode(ctx, cfg, code)
	if err != nil {
		return fatal(err)
	}
	if save == "" {
		fmt.Fprintf(e.stdout, "ZOHO_REFRESH_TOKEN=%s\n", grant.RefreshToken)
		if grant.APIDomain != "" {
			fmt.Fprintf(e.stdout, "ZOHO_API_DOMAIN=%s\n", grant.APIDomain)
		}
		if grant.Scope != "" {
			fmt.Fprintf(e.stderr, "scopes granted: %s\n", grant.Scope)
		}
		return nil
	}
	err = saveCredentials(save, credentialsFile{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RefreshToken: grant.RefreshToken,
		DC: cfg.DC, AccountsURL: cfg.AccountsURL, APIDomain: grant.APIDomain,
	})
	if err != nil {
		return fatal(err)
	}
	fmt.Fprintf(e.stdout, "saved the credentials to %s (mode 0600); use --credentials %s or ZOHO_CREDENTIALS=%s\n", save, save, save)
	return nil
}

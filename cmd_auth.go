package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"offboard/offboarding"
	"offboard/zoho"
)

// runAuth exchanges a Self Client grant code for a refresh token.
func runAuth(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "auth", "[--save FILE [--force]] [--dc DC]  (the grant code is read from standard input)")
	var (
		code, save string
		force      bool
		conn       connFlags
	)
	fs.StringVar(&code, "code", "", "\"-\" (the default) reads the grant code from standard input; a code given here would show in ps, and is refused")
	fs.StringVar(&save, "save", "", "write the credentials to FILE (mode 0600) for --credentials, instead of printing the refresh token")
	fs.BoolVar(&force, "force", false, "let --save replace an existing FILE")
	fs.StringVar(&conn.dc, "dc", "", "Zoho data centre of the Self Client (env ZOHO_DC; default us)")
	fs.StringVar(&conn.accountsURL, "accounts-url", "", "accounts server base URL, overriding --dc (env ZOHO_ACCOUNTS_URL; plain http to loopback only here)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if code != "" && code != "-" {
		return usageError{"--code with the grant code itself would show it to every user of this machine (ps); run offboard auth without --code and paste the code when asked"}
	}
	ends := endpoints{e: e}
	dc, err := ends.pick("--dc", conn.dc, "ZOHO_DC", "dc", "")
	if err != nil {
		return fatal(err)
	}
	accounts, err := ends.pick("--accounts-url", conn.accountsURL, "ZOHO_ACCOUNTS_URL", "accounts_url", "")
	if err != nil {
		return fatal(err)
	}
	cfg := zoho.Config{
		ClientID:     e.getenv("ZOHO_CLIENT_ID"),
		ClientSecret: e.getenv("ZOHO_CLIENT_SECRET"),
		DC:           dc,
		AccountsURL:  accounts,
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return fatal(fmt.Errorf("set ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET to the Self Client's client id and secret"))
	}
	if err := offboarding.CheckSave(save, force); err != nil {
		return fatal(err)
	}
	if e.stdinTTY {
		fmt.Fprint(e.stderr, "Paste the grant code: ")
	}
	if code, err = readCode(e.stdin); err != nil {
		return err
	}
	return offboarding.Auth(ctx, e.streams(), offboarding.AuthOptions{Client: cfg, Code: code, Save: save})
}

// readCode reads the grant code, the first line of r.
func readCode(r io.Reader) (string, error) {
	if r == nil {
		return "", usageError{"no grant code: paste it on standard input"}
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fatal(fmt.Errorf("read the grant code: %w", err))
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", usageError{"no grant code on standard input: generate one in the Zoho API console (Self Client, Generate Code) and paste it"}
	}
	return line, nil
}

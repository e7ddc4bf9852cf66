package offboarding

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"offboard/input"
	"offboard/sandbox"
	"offboard/zoho"
)

// SandboxOptions are the options of offboard sandbox.
type SandboxOptions struct {
	// Seed is a JSON org to serve instead of the built-in demo org.
	Seed string
	// JobDuration, ConcurrencyLimit, DailyCredits and Latency shape the
	// simulated org (see sandbox.Config).
	JobDuration      time.Duration
	ConcurrencyLimit int
	DailyCredits     int
	Latency          time.Duration
}

// Sandbox serves the simulated Zoho org until ctx ends, and prints the
// command line that points offboard at it.
func Sandbox(ctx context.Context, ios IO, o SandboxOptions) error {
	cfg := sandbox.Config{
		JobDuration:      o.JobDuration,
		ConcurrencyLimit: o.ConcurrencyLimit,
		DailyCredits:     o.DailyCredits,
		Latency:          o.Latency,
		KeepRequests:     keepRequests,
	}
	if o.Seed != "" {
		seed, err := sandbox.LoadSeedFile(o.Seed)
		if err != nil {
			return err
		}
		cfg.Seed = seed
	}
	srv, err := sandbox.Start(cfg)
	if err != nil {
		return fmt.Errorf("start the sandbox org: %w", err)
	}
	defer srv.Close()
	id, secret, refresh := srv.Credentials()
	// The endpoint goes on each command line, never into the environment:
	// a variable left set after the sandbox ends would send real secrets
	// to whatever listens on its port next (offboard refuses plain http
	// from the environment).
	fmt.Fprintf(ios.Out, "Simulated Zoho org serving at %s (accounts server and API domain).\n", srv.URL())
	fmt.Fprintf(ios.Out, "Point offboard at it on the command line; these sandbox credentials work only against it:\n\n")
	fmt.Fprintf(ios.Out, "ZOHO_CLIENT_ID=%s ZOHO_CLIENT_SECRET=%s ZOHO_REFRESH_TOKEN=%s \\\n", id, secret, refresh)
	fmt.Fprintf(ios.Out, "  offboard users --accounts-url %s\n\n", srv.URL())
	fmt.Fprintln(ios.Out, "Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// Template writes an empty input sheet for a person to fill in; an
// existing file is kept unless force.
func Template(ios IO, output string, force bool, today time.Time) error {
	if err := checkDirs(output); err != nil {
		return err
	}
	if !force {
		if _, err := os.Stat(output); err == nil {
			return fmt.Errorf("%s already exists; pass --force to overwrite it", output)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := input.WriteTemplate(output, today); err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(output), ".xlsx") {
		fmt.Fprintf(ios.Out, "wrote %s: fill in one row per leaver (the example row shows the format; the Instructions sheet explains each column), then check it with offboard plan --input %s\n", output, output)
	} else {
		fmt.Fprintf(ios.Out, "wrote %s: fill in one row per leaver (the example row shows the format), then check it with offboard plan --input %s\n", output, output)
	}
	return nil
}

// AuthOptions are the options of offboard auth.
type AuthOptions struct {
	// Client holds the Self Client's ID and secret, and where its
	// accounts server is.
	Client zoho.Config
	// Code is the grant code from the Zoho API console.
	Code string
	// Save, if set, is the credentials file to write; otherwise the refresh
	// token is printed.
	Save string
}

// CheckSave refuses to save credentials over an existing file unless force,
// before the grant code is spent.
func CheckSave(path string, force bool) error {
	if path == "" {
		return nil
	}
	if err := checkDirs(path); err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("%s already exists; pass --force to replace it, or pick another --save file", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Auth exchanges a Self Client grant code for a refresh token, and prints
// it or saves the credentials.
func Auth(ctx context.Context, ios IO, o AuthOptions) error {
	grant, err := zoho.ExchangeGrantCode(ctx, o.Client, o.Code)
	if err != nil {
		return interrupted(ctx, err)
	}
	if o.Save == "" {
		fmt.Fprintf(ios.Out, "ZOHO_REFRESH_TOKEN=%s\n", grant.RefreshToken)
		if grant.APIDomain != "" && !strings.HasPrefix(strings.ToLower(grant.APIDomain), "http:") {
			fmt.Fprintf(ios.Out, "ZOHO_API_DOMAIN=%s\n", grant.APIDomain)
		}
		if grant.Scope != "" {
			fmt.Fprintf(ios.Err, "scopes granted: %s\n", grant.Scope)
		}
		return nil
	}
	// A plain-http endpoint (an offboard sandbox on loopback) is not
	// saved: it is taken only from the command line.
	httpsOnly := func(u string) string {
		if strings.HasPrefix(strings.ToLower(u), "http:") {
			return ""
		}
		return u
	}
	err = SaveCredentials(o.Save, Credentials{
		ClientID: o.Client.ClientID, ClientSecret: o.Client.ClientSecret, RefreshToken: grant.RefreshToken,
		DC: o.Client.DC, AccountsURL: httpsOnly(o.Client.AccountsURL), APIDomain: httpsOnly(grant.APIDomain),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "saved the credentials to %s (mode 0600); use --credentials %s or ZOHO_CREDENTIALS=%s\n", o.Save, o.Save, o.Save)
	return nil
}

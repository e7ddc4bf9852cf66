package main

import (
	"context"
	"fmt"
	"time"

	"offboard/zoho/zohotest"
)

// runSandbox serves the simulated Zoho org until interrupted, and prints
// the environment that points offboard (or curl) at it.
func runSandbox(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "sandbox", "[--seed ORG.json] [--job-duration D] [--concurrency-limit N] [--daily-credits N] [--latency D]")
	var (
		seedPath    string
		jobDuration time.Duration
		concurrency int
		credits     int
		latency     time.Duration
	)
	fs.StringVar(&seedPath, "seed", "", "JSON org to serve instead of the built-in demo org (format: zoho/zohotest/doc.go)")
	fs.DurationVar(&jobDuration, "job-duration", 5*time.Second, "how long a transfer-and-delete job takes")
	fs.IntVar(&concurrency, "concurrency-limit", 10, "API calls in flight before the org answers 429 (Zoho: 5 to 25 by edition; 0 = none)")
	fs.IntVar(&credits, "daily-credits", 0, "API calls per 24 hours before the org answers 429 (0 = no limit)")
	fs.DurationVar(&latency, "latency", 50*time.Millisecond, "added to every API answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := zohotest.Config{
		JobDuration:      jobDuration,
		ConcurrencyLimit: concurrency,
		DailyCredits:     credits,
		Latency:          latency,
	}
	if seedPath != "" {
		seed, err := zohotest.LoadSeedFile(seedPath)
		if err != nil {
			return fatal(err)
		}
		cfg.Seed = seed
	}
	srv, err := zohotest.Start(cfg)
	if err != nil {
		return fatal(fmt.Errorf("start the sandbox org: %w", err))
	}
	defer srv.Close()
	id, secret, refresh := srv.Credentials()
	fmt.Fprintf(e.stdout, "Simulated Zoho org serving at %s (accounts server and API domain).\n", srv.URL())
	fmt.Fprintf(e.stdout, "These sandbox credentials work only against it:\n\n")
	fmt.Fprintf(e.stdout, "export ZOHO_ACCOUNTS_URL=%s\n", srv.URL())
	fmt.Fprintf(e.stdout, "export ZOHO_CLIENT_ID=%s\n", id)
	fmt.Fprintf(e.stdout, "export ZOHO_CLIENT_SECRET=%s\n", secret)
	fmt.Fprintf(e.stdout, "export ZOHO_REFRESH_TOKEN=%s\n\n", refresh)
	fmt.Fprintln(e.stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

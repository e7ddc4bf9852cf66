package main

import (
	"context"
	"time"

	"offboard/offboarding"
)

// runSandbox serves the simulated Zoho org until interrupted.
func runSandbox(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "sandbox", "[--seed ORG.json] [--job-duration D] [--concurrency-limit N] [--daily-credits N] [--latency D]")
	var o offboarding.SandboxOptions
	fs.StringVar(&o.Seed, "seed", "", "JSON org to serve instead of the built-in demo org (format: sandbox/doc.go in the source)")
	fs.DurationVar(&o.JobDuration, "job-duration", 5*time.Second, "how long a transfer-and-delete job takes")
	fs.IntVar(&o.ConcurrencyLimit, "concurrency-limit", 10, "API calls in flight before the org answers 429 (Zoho: 5 to 25 by edition; 0 = none)")
	fs.IntVar(&o.DailyCredits, "daily-credits", 0, "API calls per 24 hours before the org answers 429 (0 = no limit)")
	fs.DurationVar(&o.Latency, "latency", 50*time.Millisecond, "added to every API answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return offboarding.Sandbox(ctx, e.streams(), o)
}

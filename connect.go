package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"offboard/offboarding"
	"offboard/zoho"
)

// connFlags are the connection settings every command that talks to Zoho
// takes (README: "Credentials"). Secrets come only from the environment.
type connFlags struct {
	dc, accountsURL, apiDomain string
	credentials                string
	sandbox                    bool
	rate                       float64 // API calls per second, all calls together
	concurrency                int     // API calls in flight
}

// Load defaults, safe on the smallest Zoho edition: Free allows 5 calls in
// flight per org; no per-second limit is documented, and 10 a second keeps
// a run's polls from flooding the org while never being the bottleneck of
// jobs that take seconds each.
const (
	defaultRate        = 50
	defaultConcurrency = 5
)

// registerLimits adds --rate and --concurrency, for commands that make
// many calls.
func (c *connFlags) registerLimits(fs *flag.FlagSet) {
	fs.Float64Var(&c.rate, "rate", defaultRate, "API calls per second, every call counted (directory pages, submissions, polls, retries)")
	fs.IntVar(&c.concurrency, "concurrency", defaultConcurrency, "API calls in flight at once (Zoho allows 5 to 25 per org by edition; 5 is safe on every edition)")
}

func (c *connFlags) checkLimits() error {
	if c.rate < 0 || c.concurrency < 0 {
		return usageError{"--rate and --concurrency must be positive"}
	}
	if c.concurrency > 25 {
		return usageError{fmt.Sprintf("--concurrency %d: Zoho allows at most 25 calls in flight per org (Ultimate edition)", c.concurrency)}
	}
	return nil
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dc, "dc", "", "Zoho data centre: "+strings.Join(zoho.DCNames(), ", ")+" (default us; env ZOHO_DC)")
	fs.StringVar(&c.accountsURL, "accounts-url", "", "accounts server base URL, overriding --dc (env ZOHO_ACCOUNTS_URL)")
	fs.StringVar(&c.apiDomain, "api-domain", "", "API base URL, overriding the token response's api_domain (env ZOHO_API_DOMAIN)")
	fs.StringVar(&c.credentials, "credentials", "", "file written by offboard auth --save (mode 0600), instead of the ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN variables (env ZOHO_CREDENTIALS)")
	fs.BoolVar(&c.sandbox, "sandbox", false, "use the simulated demo org built into offboard: no account, no credentials, nothing leaves the machine")
}

// connection turns the flags and the environment into how offboarding
// reaches Zoho. Secrets come from the environment or the credentials file
// only.
func (c *connFlags) connection(e env) (offboarding.Connection, error) {
	rateLimit, inFlight := c.rate, c.concurrency
	if rateLimit <= 0 {
		rateLimit = defaultRate
	}
	if inFlight <= 0 {
		inFlight = defaultConcurrency
	}
	cfg := zoho.Config{
		UserAgent:   "offboard/" + buildVersion(),
		Limiter:     rate.NewLimiter(rate.Limit(rateLimit), max(1, int(rateLimit))),
		MaxInFlight: inFlight,
	}
	if !c.sandbox {
		var file offboarding.Credentials
		if path := firstNonEmpty(c.credentials, e.getenv("ZOHO_CREDENTIALS")); path != "" {
			// The file replaces the three secret variables; flags and the
			// other variables still override where it says the org lives.
			var err error
			if file, err = offboarding.LoadCredentials(path); err != nil {
				return offboarding.Connection{}, fatal(err)
			}
			cfg.ClientID, cfg.ClientSecret, cfg.RefreshToken = file.ClientID, file.ClientSecret, file.RefreshToken
		} else {
			cfg.ClientID = e.getenv("ZOHO_CLIENT_ID")
			cfg.ClientSecret = e.getenv("ZOHO_CLIENT_SECRET")
			cfg.RefreshToken = e.getenv("ZOHO_REFRESH_TOKEN")
		}
		cfg.DC = firstNonEmpty(c.dc, e.getenv("ZOHO_DC"), file.DC)
		cfg.AccountsURL = firstNonEmpty(c.accountsURL, e.getenv("ZOHO_ACCOUNTS_URL"), file.AccountsURL)
		cfg.APIDomain = firstNonEmpty(c.apiDomain, e.getenv("ZOHO_API_DOMAIN"), file.APIDomain)
		if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.RefreshToken == "" {
			var missing []string
			for _, m := range []struct{ v, name string }{{cfg.ClientID, "ZOHO_CLIENT_ID"}, {cfg.ClientSecret, "ZOHO_CLIENT_SECRET"}, {cfg.RefreshToken, "ZOHO_REFRESH_TOKEN"}} {
				if m.v == "" {
					missing = append(missing, m.name)
				}
			}
			return offboarding.Connection{}, fatal(fmt.Errorf("no Zoho credentials: %s not set; set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN, or --credentials FILE (see README, \"Credentials\"), or try --sandbox", strings.Join(missing, ", ")))
		}
		// Check the configuration now, before the sheet is read.
		if _, err := zoho.New(cfg); err != nil {
			return offboarding.Connection{}, fatal(err)
		}
	}
	if e.tuneClient != nil {
		e.tuneClient(&cfg)
	}
	return offboarding.Connection{Client: cfg, Sandbox: c.sandbox, SandboxJobDuration: e.sandboxJobs}, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// logFlags select the log format and level (README: "Logs").
type logFlags struct {
	format, level string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "", "log format: console or json (default: console on a terminal, json otherwise)")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
}

// config checks the flags and turns them into offboarding's log
// configuration.
func (l *logFlags) config() (offboarding.LogConfig, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(l.level))
	if err != nil || l.level == "" {
		return offboarding.LogConfig{}, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", l.level)}
	}
	switch l.format {
	case "", "json", "console":
	default:
		return offboarding.LogConfig{}, usageError{fmt.Sprintf("--log-format %q: want console or json", l.format)}
	}
	return offboarding.LogConfig{Format: l.format, Level: level}, nil
}

// isTerminal reports whether v (a stream) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// fatal wraps err as a "could not start or had to stop" failure (exit 1).
func fatal(err error) error {
	if err == nil {
		return nil
	}
	var x exitError
	if errors.As(err, &x) {
		return err
	}
	return exitError{code: exitFatal, err: err}
}

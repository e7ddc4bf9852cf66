package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"offboard/zoho"
	"offboard/zoho/zohotest"
)

// connFlags are the connection settings every command that talks to Zoho
// takes (contract §2). Secrets come only from the environment.
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
	defaultRate        = 10
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

// connection is a ready client and what to release when done.
type connection struct {
	client  *zoho.Client
	sandbox *zohotest.Server
	where   string // API domain or "sandbox", for messages
}

func (c *connection) Close() {
	if c.sandbox != nil {
		c.sandbox.Close()
	}
}

// connect builds the client from flags and environment. In sandbox mode it
// starts the simulated org on loopback and points the client at it.
func (c *connFlags) connect(e env, log zerolog.Logger) (*connection, error) {
	rateLimit, inFlight := c.rate, c.concurrency
	if rateLimit <= 0 {
		rateLimit = defaultRate
	}
	if inFlight <= 0 {
		inFlight = defaultConcurrency
	}
	cfg := zoho.Config{
		UserAgent:   "offboard/" + buildVersion(),
		Logger:      &log,
		Limiter:     rate.NewLimiter(rate.Limit(rateLimit), max(1, int(rateLimit))),
		MaxInFlight: inFlight,
	}
	conn := &connection{}
	if c.sandbox {
		// Sandbox jobs take a second, so the demo's chain of three runs in
		// a few seconds; Zoho's take longer, which the runner learns.
		srv, err := zohotest.Start(zohotest.Config{JobDuration: time.Second})
		if err != nil {
			return nil, fmt.Errorf("start the sandbox org: %w", err)
		}
		conn.sandbox = srv
		cfg.ClientID, cfg.ClientSecret, cfg.RefreshToken = srv.Credentials()
		cfg.AccountsURL = srv.URL()
		conn.where = "sandbox"
	} else {
		var file credentialsFile
		if path := firstNonEmpty(c.credentials, e.getenv("ZOHO_CREDENTIALS")); path != "" {
			// The file replaces the three secret variables; flags and the
			// other variables still override where it says the org lives.
			var err error
			if file, err = loadCredentials(path); err != nil {
				return nil, err
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
		conn.where = firstNonEmpty(cfg.APIDomain, "the api_domain of the token")
	}
	if e.tuneClient != nil {
		e.tuneClient(&cfg)
	}
	client, err := zoho.New(cfg)
	if err != nil {
		conn.Close()
		if !c.sandbox && (cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.RefreshToken == "") {
			return nil, fmt.Errorf("%w\nset ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN (see README, \"Credentials\"), or try --sandbox", err)
		}
		return nil, err
	}
	conn.client = client
	return conn, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// logFlags select the log format and level (contract §8).
type logFlags struct {
	format, level string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "", "log format: console or json (default: console on a terminal, json otherwise)")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
}

// logger builds the zerolog logger on w: human-readable on a terminal,
// JSON lines otherwise.
func (l *logFlags) logger(w io.Writer) (zerolog.Logger, error) {
	return l.loggerOn(w, isTerminal(w))
}

// loggerOn builds the logger on w, which is a terminal if terminal says
// so (w may wrap one).
func (l *logFlags) loggerOn(w io.Writer, terminal bool) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(l.level))
	if err != nil || l.level == "" {
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", l.level)}
	}
	format := l.format
	if format == "" {
		format = "json"
		if terminal {
			format = "console"
		}
	}
	var out io.Writer
	switch format {
	case "json":
		out = w
	case "console":
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !terminal}
	default:
		return zerolog.Nop(), usageError{fmt.Sprintf("--log-format %q: want console or json", l.format)}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
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

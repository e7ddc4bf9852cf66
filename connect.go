package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
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
	fs.StringVar(&c.accountsURL, "accounts-url", "", "accounts server base URL, overriding --dc (env ZOHO_ACCOUNTS_URL; plain http to loopback only here)")
	fs.StringVar(&c.apiDomain, "api-domain", "", "API base URL, overriding the token response's api_domain (env ZOHO_API_DOMAIN; plain http to loopback only here)")
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
		var (
			file offboarding.Credentials
			path = firstNonEmpty(c.credentials, e.getenv("ZOHO_CREDENTIALS"))
		)
		if path != "" {
			// The file replaces the three secret variables, and says where
			// the org lives: only flags override that.
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
		var err error
		ends := endpoints{e: e, file: path}
		cfg.DC, err = ends.pick("--dc", c.dc, "ZOHO_DC", "dc", file.DC)
		if err == nil {
			cfg.AccountsURL, err = ends.pick("--accounts-url", c.accountsURL, "ZOHO_ACCOUNTS_URL", "accounts_url", file.AccountsURL)
		}
		if err == nil {
			cfg.APIDomain, err = ends.pick("--api-domain", c.apiDomain, "ZOHO_API_DOMAIN", "api_domain", file.APIDomain)
		}
		if err != nil {
			return offboarding.Connection{}, fatal(err)
		}
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

// endpoints picks where the org lives: the data centre, the accounts
// server and the API domain, each from its flag, else the credentials file
// if one is used, else the environment.
//
// A variable left in the environment never silently sends a credentials
// file's secrets elsewhere: one that differs from the file is refused. And
// plain http (to loopback: an offboard sandbox, tests) is used only when
// named on the command line: a variable or a file outlives the sandbox it
// named, and whatever listens on that port later would be sent the
// secrets.
type endpoints struct {
	e    env
	file string // the credentials file in use, "" if none
}

func (p endpoints) pick(flagName, flagVal, envName, fileKey, fileVal string) (string, error) {
	if flagVal != "" {
		return flagVal, checkEndpoint(fileKey, flagVal, flagName+" "+flagVal)
	}
	envVal := strings.TrimSpace(p.e.getenv(envName))
	val, from := envVal, envName+"="+envVal+" in the environment"
	if p.file != "" {
		if envVal != "" && !sameEndpoint(fileKey, envVal, fileVal) {
			fileSays := fileKey + " " + fileVal
			if fileVal == "" {
				fileSays = "no " + fileKey
			}
			return "", fmt.Errorf("%s differs from the credentials file %s, which has %s: offboard will not send the file's secrets elsewhere on a variable's word; unset %s, or name the endpoint with %s",
				from, p.file, fileSays, envName, flagName)
		}
		val, from = strings.TrimSpace(fileVal), "the credentials file "+p.file+"'s "+fileKey+" "+fileVal
	}
	// Any scheme but https, however spelled or padded (" http://",
	// "\tHTTP://"), from anywhere but the command line.
	if scheme, _, ok := strings.Cut(val, "://"); fileKey != "dc" && ok && !strings.EqualFold(strings.TrimSpace(scheme), "https") {
		return "", fmt.Errorf("%s: plain http is used only when named on the command line (%s %s, for an offboard sandbox), never from the environment or a credentials file", from, flagName, val)
	}
	if val == "" {
		return "", nil
	}
	return val, checkEndpoint(fileKey, val, from)
}

// checkEndpoint checks a data centre's name or a base URL, saying where the
// value came from: a flag, a variable or the credentials file.
func checkEndpoint(key, val, from string) error {
	if key == "dc" {
		if _, err := zoho.LookupDC(val); err != nil {
			return fmt.Errorf("%s: not a Zoho data centre; want one of %s (the domain your Zoho login page is on: zoho.eu is eu)", from, strings.Join(zoho.DCNames(), ", "))
		}
		return nil
	}
	if scheme, _, ok := strings.Cut(val, "://"); !ok || scheme == "" {
		rest := strings.TrimLeft(val, "/:")
		host := rest
		if h, _, err := net.SplitHostPort(rest); err == nil {
			host = h
		}
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			// A local simulator (offboard sandbox) speaks plain http.
			return fmt.Errorf("%s: want a URL with its scheme: http://%s for a simulator on this machine (offboard sandbox), https://%s otherwise", from, rest, rest)
		}
		return fmt.Errorf("%s: want a URL with its scheme, https://%s", from, rest)
	}
	return nil
}

// sameEndpoint reports whether two settings of key name the same place.
func sameEndpoint(key, a, b string) bool {
	norm := func(v string) string {
		v = strings.ToLower(strings.TrimRight(strings.TrimSpace(v), "/"))
		if key == "dc" && v == "" {
			v = zoho.DefaultDC
		}
		return v
	}
	return norm(a) == norm(b)
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

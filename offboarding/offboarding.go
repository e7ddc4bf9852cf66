// Package offboarding carries out offboard's commands once their flags are
// read: it reads the sheet, checks it against the org, guards and
// confirms, runs the plan through the runner with a journal, follows the
// jobs and writes the results. The command line (package main) turns flags
// and the environment into these options and errors into exit statuses,
// nothing more.
//
// Errors: an *IncompleteError says the command finished but some rows need
// attention (exit status 3); an *InterruptedError (errors.Is
// context.Canceled) that it was interrupted (130); any other error that it
// could not start or had to stop (1).
package offboarding

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"offboard/pacer"
	"offboard/sandbox"
	"offboard/zoho"
)

// IO is what a command sees of its process's streams.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// InTerminal and ErrTerminal say that In and Err are a terminal: a
	// run asks for confirmation on the one and draws its progress bar on
	// the other.
	InTerminal, ErrTerminal bool
	// OutTerminal says that Out is a terminal: what is printed there from
	// outside (a user's name) has its control characters escaped, even in
	// a CSV, which is meant for a file.
	OutTerminal bool
}

// LogConfig says how to log on IO.Err.
type LogConfig struct {
	// Format is "console" (human-readable) or "json" (JSON lines); ""
	// means console on a terminal, json otherwise.
	Format string
	// Level is the least level logged.
	Level zerolog.Level
}

// Logger builds the logger on w, which is a terminal if terminal says so
// (w may wrap one).
func (l LogConfig) Logger(w io.Writer, terminal bool) zerolog.Logger {
	format := l.Format
	if format == "" {
		format = "json"
		if terminal {
			format = "console"
		}
	}
	// Workers log at once: one line must never cut into another,
	// whatever w is (a pipe, a buffer).
	w = zerolog.SyncWriter(w)
	out := w
	if format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !terminal}
	}
	return zerolog.New(out).Level(l.Level).With().Timestamp().Logger()
}

// IncompleteError says the command finished but some rows need attention:
// invalid, failed, submitted or not_run (exit status 3).
type IncompleteError struct{ Msg string }

func (e *IncompleteError) Error() string { return e.Msg }

// InterruptedError says the command was interrupted (exit status 130). It
// matches context.Canceled.
type InterruptedError struct{ Msg string }

func (e *InterruptedError) Error() string { return e.Msg }

// Unwrap returns context.Canceled.
func (e *InterruptedError) Unwrap() error { return context.Canceled }

// interrupted turns the end of ctx, seen as err, into an *InterruptedError.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return &InterruptedError{Msg: "interrupted; nothing was sent"}
	}
	return err
}

// Connection says how to reach Zoho.
type Connection struct {
	// Client is the Zoho client's configuration: credentials, data centre,
	// endpoints, limits. With Sandbox, its credentials and endpoints are
	// the sandbox's.
	Client zoho.Config
	// Sandbox serves the built-in simulated org on loopback for the
	// command's length and connects to it: no account, nothing leaves the
	// machine.
	Sandbox bool
	// SandboxJobDuration is how long the sandbox's jobs take; 0 means 1 s.
	SandboxJobDuration time.Duration
	// Pacing is how every call to the org waits after Zoho answered one
	// "later"; the zero value is the usual pacing.
	Pacing pacer.Options
}

// keepRequests bounds the sandbox's request log: nothing in the product
// reads it, and offboard sandbox may serve for days.
const keepRequests = 10000

// connection is a ready client and what to release when done.
type connection struct {
	client  *zoho.Client
	sandbox *sandbox.Server
	// pacer spaces every call of the command: the reads of the org, the
	// submissions and the polls of a run.
	pacer *pacer.Pacer
}

func (c *connection) Close() {
	if c.sandbox != nil {
		c.sandbox.Close()
	}
}

// connect builds the client; in sandbox mode it first starts the
// simulated org on loopback and points the client at it.
func (cn Connection) connect(log zerolog.Logger) (*connection, error) {
	cfg := cn.Client
	cfg.Logger = &log
	conn := &connection{pacer: pacer.New(cn.Pacing)}
	if cn.Sandbox {
		// Sandbox jobs take a second, so the demo's chain of three runs in
		// a few seconds; Zoho's take longer, which the runner learns.
		d := cn.SandboxJobDuration
		if d <= 0 {
			d = time.Second
		}
		srv, err := sandbox.Start(sandbox.Config{JobDuration: d, KeepRequests: keepRequests})
		if err != nil {
			return nil, fmt.Errorf("start the sandbox org: %w", err)
		}
		conn.sandbox = srv
		cfg.ClientID, cfg.ClientSecret, cfg.RefreshToken = srv.Credentials()
		cfg.AccountsURL, cfg.APIDomain = srv.URL(), ""
	}
	client, err := zoho.New(cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.client = client
	return conn, nil
}

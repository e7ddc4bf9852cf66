// Package report writes the results workbook of a plan or a run
// (README: "The results workbook"): one row per input row with its outcome, the rows to try
// again, and a summary. It takes plain results and knows nothing of Zoho,
// plans or retries.
//
// An .xlsx workbook has three sheets:
//
//   - Results: the input's own columns as they were, then Row, Outcome,
//     Code, Message, User ID, User Email, Transfer To ID, Subordinates To ID,
//     Job ID, Job Status, Attempts, Submitted At and Finished At. The header
//     is bold, frozen and filtered; the Outcome cell is coloured (see
//     OutcomeColor). Every text cell is an inline string in a text-formatted
//     (@) column, so an ID keeps its 19 digits, a value that starts with '='
//     is never a formula, and a reviewer who edits a cell does not turn it
//     into one. Row and Attempts are numbers; Attempts is blank when no
//     submission call was made.
//   - Retry: the input's header and, unchanged, every row that ended
//     invalid, failed or not_run, so that the sheet can be fixed and read
//     back as input (offboard run --input results.xlsx --sheet Retry). It
//     is there, header only, when no row needs another try.
//   - Summary: labels and values, then the count of every outcome.
//
// A .csv output is the Results sheet as one flat file, UTF-8 with a byte
// order mark so that Excel shows names with accents right, with the retry
// rows beside it in RetryPath(path), always written, header only when no row
// needs another try. There is no summary in CSV. Every CSV cell that begins
// with '=', '+', '-', '@', tab or carriage return is prefixed with an
// apostrophe so that a spreadsheet shows it as text; in the retry file too,
// since a person opens it to fix the rows (the apostrophe then stays in the
// value read back).
//
// Values are written as they are, except that a workbook cannot hold the
// control characters other than tab, line feed and carriage return: they
// show as U+FFFD, and a cell longer than Excel's 32,767 characters is cut
// there.
//
// Files are written to temporary names in the output's directory and renamed
// onto their paths by Close, so a results file is never half-written.
package report

import (
	"errors"
	"fmt"
	"maps"
	"offboard/result"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// OutcomeColor returns the fill and font colours (RGB hex) of an outcome's
// cell, or "" for an unknown outcome. The fills follow Excel's own
// Good/Bad/Neutral cell styles where one fits: deleted green, submitted
// light blue, planned blue, failed red, invalid orange, not_run amber,
// skipped light grey, deferred grey. Each font is a dark shade of its fill,
// readable on it and in print.
func OutcomeColor(outcome result.Outcome) (fill, font string) {
	switch outcome {
	case result.Deleted:
		return "C6EFCE", "006100"
	case result.Submitted:
		return "DDEBF7", "1F4E78"
	case result.Planned:
		return "BDD7EE", "1F3864"
	case result.Failed:
		return "FFC7CE", "9C0006"
	case result.Invalid:
		return "F8CBAD", "843C0C"
	case result.NotRun:
		return "FFEB9C", "9C5700"
	case result.Skipped:
		return "EDEDED", "3A3A3A"
	case result.Deferred:
		return "D0D0D0", "262626"
	}
	return "", ""
}

// Columns returns the names of the columns the Results sheet adds after the
// input's own, in order.
func Columns() []string {
	return []string{
		"Row", "Outcome", "Code", "Message", "User ID", "User Email",
		"Transfer To ID", "Subordinates To ID", "Job ID", "Job Status",
		"Attempts", "Submitted At", "Finished At",
		"Transfer To Email", "Subordinates To Email",
	}
}

// legacyColumns are the columns of an offboard before the targets' emails:
// its results files are still results files (IsResults).
const legacyColumns = 13

// Indexes of the columns in Columns, counted from the first of them.
const (
	colRow = iota
	colOutcome
	colCode
	colMessage
	colUserID
	colUserEmail
	colTransferToID
	colSubordinatesToID
	colJobID
	colJobStatus
	colAttempts
	colSubmittedAt
	colFinishedAt
	colTransferToEmail
	colSubordinatesToEmail
	numColumns
)

// MaxInputColumns is the widest input header a results workbook can hold:
// its own columns follow the input's, and a sheet ends at column XFD
// (16,384).
const MaxInputColumns = 16384 - numColumns

// Summary is what the Summary sheet says about the whole plan or run.
type Summary struct {
	// Command is "plan" or "run".
	Command string
	// InputFile is the input's file name and InputSHA256 its hex SHA-256;
	// Sheet is the sheet read ("" for a CSV).
	InputFile, InputSHA256, Sheet string
	// RowsRead counts the input's rows below the header, blank ones not
	// counted.
	RowsRead int
	// HiddenRows counts the rows the sheet hides (filtered out or hidden
	// by hand); IncludeHidden says whether they were planned or skipped.
	HiddenRows    int
	IncludeHidden bool
	// Start and End bound the run; the Summary shows both and the duration
	// between them. A zero time shows as blank.
	Start, End time.Time
	// OrgName and OrgID name the org the rows were checked against.
	OrgName, OrgID string
	// APIDomain is the Zoho API base URL the run spoke to ("sandbox" for
	// the built-in sandbox).
	APIDomain string
	// AdminName, AdminEmail and AdminID are the user whose token ran the
	// command: the admin the org's audit log names.
	AdminName, AdminEmail, AdminID string
	// Host is the name of the machine the command ran on.
	Host string
	// Settings are a run's limits and guards; nil shows them blank (offboard
	// plan has none; a journal of an older offboard did not record them).
	Settings *Settings
	// DryRun and Sandbox show as yes or no.
	DryRun, Sandbox bool
	// Local is a run against a local endpoint (a simulator named with
	// --accounts-url): Sandbox then says so, not no.
	Local bool
	// Version is the tool's version.
	Version string
	// Note says, when it is not "", why a run stopped early or anything
	// else a reviewer must know.
	Note string
	// PlanDigest is the digest of the sealed plan the workbook carries
	// (offboard plan) or ran (offboard run --plan); PlanCreated when that
	// plan was made; ApprovedBy who saved the approved plan last, as its
	// file says. Each shows only when not "".
	PlanDigest, PlanCreated, ApprovedBy string
}

// Settings are what a run was told, on its command line, that bears on
// what it did.
type Settings struct {
	// MaxJobs is --max-jobs: jobs of the run unfinished at once.
	MaxJobs int
	// Rate is --rate, in API calls a second, and Concurrency is
	// --concurrency, API calls in flight; 0 shows blank.
	Rate        float64
	Concurrency int
	// Strict is --strict; MaxDeletes is --max-deletes.
	Strict     bool
	MaxDeletes int
	// JobTimeout is --job-timeout (0 shows blank), NoWait --no-wait.
	JobTimeout time.Duration
	NoWait     bool
}

// Writer writes a results file. Write rows in input order, then Close it,
// or Abort it to leave nothing behind. A Writer is not safe for concurrent
// use.
type Writer struct {
	path   string
	header []string
	sink   sink
	counts map[result.Outcome]int
	err    error      // sticky: the first error of Write, or errClosed
	row    result.Row // the row being written: a field, so it does not escape per row
}

// sink is one output format: it writes to temporary files and renames them
// onto their paths in commit.
type sink interface {
	write(r *result.Row, cells []string) error
	// finish completes the temporary files; commit renames them.
	finish(s Summary, counts map[result.Outcome]int) error
	commit() error
	// discard drops whatever is left of the temporary files.
	discard()
}

var errClosed = errors.New("results writer is closed")

// Create starts a results file at path, .xlsx or .csv by its extension (any
// case), for input rows with the given header names. Nothing appears at path
// until Close; the temporary file is created now, so an output directory that
// cannot be written is found before any work is done.
func Create(path string, inputHeader []string) (*Writer, error) {
	return CreateSealed(path, inputHeader, nil)
}

// CreateSealed is Create for a plan workbook that can be approved
// (offboard run --plan): with seal, the workbook has an Approved column
// and the very hidden Plan sheet (see Seal). Only an .xlsx can be sealed.
func CreateSealed(path string, inputHeader []string, seal *Seal) (*Writer, error) {
	if seal != nil && !strings.EqualFold(filepath.Ext(path), ".xlsx") {
		return nil, fmt.Errorf("results file %s: only an .xlsx plan can be approved and run with --plan", filepath.Base(path))
	}
	w := &Writer{
		path:   path,
		header: slices.Clone(inputHeader),
		counts: make(map[result.Outcome]int),
	}
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".xlsx":
		if len(w.header) > MaxInputColumns {
			return nil, fmt.Errorf("results file %s: the input has %d columns; a workbook holds %d besides the %d offboard adds", filepath.Base(path), len(w.header), MaxInputColumns, numColumns)
		}
		w.sink, err = newXLSXSink(path, w.header, newRetryLayout(w.header), seal)
	case ".csv":
		w.sink, err = newCSVSink(path, w.header, newRetryLayout(w.header))
	default:
		return nil, fmt.Errorf("results file %s: unknown file type %q: use .xlsx or .csv", filepath.Base(path), ext)
	}
	if err != nil {
		return nil, fmt.Errorf("create results file %s: %w", filepath.Base(path), err)
	}
	return w, nil
}

// RetryPath returns where a .csv results file's retry rows go: the path with
// its extension replaced by ".retry" and the extension (out.csv becomes
// out.retry.csv).
func RetryPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".retry" + ext
}

// Write adds one row's result. Rows appear in the order they are written.
// A result with an unknown outcome or more cells than the header is refused
// with an error and not written; the Writer goes on. Once writing the file
// itself fails, the Writer is broken: every later Write and Close returns
// that error, and nothing is left at the path.
func (w *Writer) Write(r result.Row) error {
	if w.err != nil {
		return w.err
	}
	if !r.Outcome.Known() {
		return fmt.Errorf("results row %d: unknown outcome %q", r.Line, r.Outcome)
	}
	if len(r.Cells) > len(w.header) {
		return fmt.Errorf("results row %d: %d cells for a header of %d columns", r.Line, len(r.Cells), len(w.header))
	}
	cells := r.Cells
	if len(cells) < len(w.header) {
		cells = make([]string, len(w.header))
		copy(cells, r.Cells)
	}
	w.row = r
	err := w.sink.write(&w.row, cells)
	w.row = result.Row{}
	if err != nil {
		w.err = fmt.Errorf("write results file %s: row %d: %w", filepath.Base(w.path), r.Line, err)
		return w.err
	}
	w.counts[r.Outcome]++
	return nil
}

// Counts returns how many rows have been written with each outcome so far.
// Outcomes with no row are absent; the map is the caller's.
func (w *Writer) Counts() map[result.Outcome]int {
	return maps.Clone(w.counts)
}

// Close writes the rest of the file (the Summary sheet of an .xlsx) and
// renames the temporary file(s) onto the path. With .csv the retry file is
// renamed first, so a results file is never there without its retry file.
// After an error no temporary file remains and the path is as it was: a file
// from an earlier run there is kept, never replaced by a partial one. Close after Close or Abort is an error.
func (w *Writer) Close(s Summary) error {
	if w.err != nil {
		err := w.err
		w.Abort()
		return err
	}
	w.err = errClosed
	if err := w.sink.finish(s, w.Counts()); err != nil {
		w.sink.discard()
		return fmt.Errorf("write results file %s: %w", filepath.Base(w.path), err)
	}
	if err := w.sink.commit(); err != nil {
		w.sink.discard()
		return fmt.Errorf("save results file %s: %w", filepath.Base(w.path), err)
	}
	return nil
}

// Abort drops the temporary file(s): nothing is written at the path. It does
// nothing after Close, and may be called more than once.
func (w *Writer) Abort() {
	if w.err == errClosed {
		return
	}
	w.err = errClosed
	w.sink.discard()
}

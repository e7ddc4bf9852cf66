package report

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"offboard/result"
	"slices"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// The sheets of the workbook, in order.
const (
	SheetResults = "Results"
	SheetRetry   = "Retry"
	SheetSummary = "Summary"
)

// sampleRows is how many rows are held back to estimate the column widths
// from: a stream writer takes the widths before its first row.
const sampleRows = 100

// numFmtText is Excel's built-in "@" (text) number format. A text column
// keeps what a reviewer types into it as text: an ID stays exact, and
// "=1+1" stays "=1+1".
const numFmtText = 49

// xlsxSink streams the Results and Retry sheets as rows come, each through
// its own excelize StreamWriter: each writer keeps its own buffer (in
// memory up to 16 MiB, then in a temporary file), so the two interleave
// and no row is held twice. The Summary sheet is written at the end.
type xlsxSink struct {
	f      *excelize.File
	out    *tempFile
	header []string

	results, retry *excelize.StreamWriter
	resultRows     int // rows written, header included
	retryRows      int

	// sample holds the first rows until the column widths are set.
	sample  []result.Row
	started bool

	style xlsxStyles
	row   []any // reused for every row
}

type xlsxStyles struct {
	header, label, text int
	outcome             map[result.Outcome]int
}

func newXLSXSink(path string, header []string) (s *xlsxSink, err error) {
	f := excelize.NewFile()
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	if err := f.SetSheetName("Sheet1", SheetResults); err != nil {
		return nil, err
	}
	for _, name := range []string{SheetRetry, SheetSummary} {
		if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
	}
	st, err := newStyles(f)
	if err != nil {
		return nil, err
	}
	results, err := f.NewStreamWriter(SheetResults)
	if err != nil {
		return nil, err
	}
	retry, err := f.NewStreamWriter(SheetRetry)
	if err != nil {
		return nil, err
	}
	out, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &xlsxSink{
		f: f, out: out, header: header,
		results: results, retry: retry,
		style: st,
		row:   make([]any, len(header)+numColumns),
	}, nil
}

func newStyles(f *excelize.File) (xlsxStyles, error) {
	st := xlsxStyles{outcome: make(map[result.Outcome]int)}
	var err error
	if st.header, err = f.NewStyle(&excelize.Style{
		Font:   &excelize.Font{Bold: true},
		Border: []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}},
		NumFmt: numFmtText,
	}); err != nil {
		return st, err
	}
	if st.label, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return st, err
	}
	if st.text, err = f.NewStyle(&excelize.Style{NumFmt: numFmtText}); err != nil {
		return st, err
	}
	for _, o := range result.Outcomes() {
		fill, font := OutcomeColor(o)
		id, err := f.NewStyle(&excelize.Style{
			Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{fill}},
			Font:   &excelize.Font{Color: font},
			NumFmt: numFmtText,
		})
		if err != nil {
			return st, err
		}
		st.outcome[o] = id
	}
	return st, nil
}

func (s *xlsxSink) write(r *result.Row, cells []string) error {
	if !s.started {
		if len(s.sample) < sampleRows {
			// The caller may reuse its slice for the next row.
			c := *r
			c.Cells = slices.Clone(cells)
			s.sample = append(s.sample, c)
			return nil
		}
		if err := s.start(); err != nil {
			return err
		}
	}
	return s.writeRow(r, cells)
}

// maxSizedColumns is the widest input whose columns are each sized to
// their content; see start.
const maxSizedColumns = 256

// start fixes the column widths from the sample, writes the headers and
// the rows held back.
func (s *xlsxSink) start() error {
	s.started = true
	w := widths(s.header, s.sample)
	n := len(s.header)
	// Columns alike (same width, same style, on the same sheets) are set
	// as one range: excelize's cost grows with the ranges already set, and
	// a header may reach column XFD.
	kind := func(i int) [3]float64 {
		text, retry := 1.0, 0.0
		if i == n+colRow || i == n+colAttempts {
			text = 0 // numbers
		}
		if i < n {
			retry = 1
		}
		return [3]float64{w[i], text, retry}
	}
	first := 0
	if n > maxSizedColumns {
		// No offboarding sheet is this wide: its columns keep the
		// default width and style, and only ours are set. (excelize
		// flattens every range it is given into one entry per column,
		// at a cost that grows with the square of their number.)
		first = n
	}
	for first < len(w) {
		last := first
		for last+1 < len(w) && kind(last+1) == kind(first) {
			last++
		}
		from, to, k := first+1, last+1, kind(first)
		first = last + 1
		if err := s.results.SetColWidth(from, to, k[0]); err != nil {
			return err
		}
		if k[1] == 1 {
			if err := s.results.SetColStyle(from, to, s.style.text); err != nil {
				return err
			}
		}
		if k[2] == 1 {
			if err := s.retry.SetColWidth(from, to, k[0]); err != nil {
				return err
			}
			if err := s.retry.SetColStyle(from, to, s.style.text); err != nil {
				return err
			}
		}
	}
	for _, sw := range []*excelize.StreamWriter{s.results, s.retry} {
		if err := sw.SetPanes(&excelize.Panes{
			Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
			Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
		}); err != nil {
			return err
		}
	}

	row := s.row[:0]
	for _, h := range append(slices.Clone(s.header), Columns()...) {
		row = append(row, &excelize.Cell{StyleID: s.style.header, Value: h})
	}
	if err := s.results.SetRow("A1", row); err != nil {
		return err
	}
	s.resultRows = 1
	if n > 0 {
		if err := s.retry.SetRow("A1", row[:n]); err != nil {
			return err
		}
		s.retryRows = 1
	}
	clear(s.row)

	for i := range s.sample {
		if err := s.writeRow(&s.sample[i], s.sample[i].Cells); err != nil {
			return err
		}
	}
	s.sample = nil
	return nil
}

func (s *xlsxSink) writeRow(r *result.Row, cells []string) error {
	n := len(s.header)
	row := s.row
	for i, c := range cells {
		row[i] = text(c)
	}
	if r.Outcome.NeedsRetry() {
		s.retryRows++
		if err := s.retry.SetRow("A"+strconv.Itoa(s.retryRows), row[:n]); err != nil {
			return err
		}
	}
	ours := row[n:]
	ours[colRow] = r.Line
	ours[colOutcome] = excelize.Cell{StyleID: s.style.outcome[r.Outcome], Value: r.Outcome}
	ours[colCode] = text(r.Code)
	ours[colMessage] = text(r.Message)
	ours[colUserID] = text(r.UserID)
	ours[colUserEmail] = text(r.UserEmail)
	ours[colTransferToID] = text(r.TransferToID)
	ours[colSubordinatesToID] = text(r.SubordinatesToID)
	ours[colJobID] = text(r.JobID)
	ours[colJobStatus] = text(r.JobStatus)
	ours[colAttempts] = nil
	if r.Attempts != 0 {
		ours[colAttempts] = r.Attempts
	}
	ours[colSubmittedAt] = text(timeText(r.SubmittedAt))
	ours[colFinishedAt] = text(timeText(r.FinishedAt))
	s.resultRows++
	err := s.results.SetRow("A"+strconv.Itoa(s.resultRows), row)
	clear(row) // let go of the row's strings
	return err
}

// text is a string cell's value: nil, no cell at all, when blank. A string
// is always written as an inline string, never a formula, whatever it
// begins with.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *xlsxSink) finish(sum Summary, counts map[result.Outcome]int) error {
	if !s.started {
		if err := s.start(); err != nil {
			return err
		}
	}
	last, err := excelize.CoordinatesToCellName(len(s.header)+numColumns, max(s.resultRows, 1))
	if err != nil {
		return err
	}
	// AutoFilter sets the worksheet that the stream writer holds until
	// Flush, so it must come before it.
	if err := s.f.AutoFilter(SheetResults, "A1:"+last, nil); err != nil {
		return err
	}
	if err := s.results.Flush(); err != nil {
		return err
	}
	if len(s.header) > 0 {
		last, err := excelize.CoordinatesToCellName(len(s.header), max(s.retryRows, 1))
		if err != nil {
			return err
		}
		if err := s.f.AutoFilter(SheetRetry, "A1:"+last, nil); err != nil {
			return err
		}
	}
	if err := s.retry.Flush(); err != nil {
		return err
	}
	if err := s.writeSummary(sum, counts); err != nil {
		return err
	}
	// Results, the first sheet, is the active one from the start: setting
	// it here would make excelize parse every flushed sheet back.

	// excelize builds the zip in a bytes.Buffer that it then copies to the
	// io.Writer: the whole compressed workbook in memory. Its zip writer
	// hook lets the zip go straight to the file instead.
	bw := bufio.NewWriterSize(s.out, 256<<10)
	s.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(bw) })
	if err := s.f.Write(io.Discard); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := s.f.Close(); err != nil { // drops the stream writers' temporary files
		return err
	}
	return s.out.finish()
}

func (s *xlsxSink) writeSummary(sum Summary, counts map[result.Outcome]int) error {
	sw, err := s.f.NewStreamWriter(SheetSummary)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, 16); err != nil {
		return err
	}
	if err := sw.SetColWidth(2, 2, 68); err != nil { // a SHA-256 in hex
		return err
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	duration := ""
	if !sum.Start.IsZero() && !sum.End.IsZero() {
		d := sum.End.Sub(sum.Start)
		if d >= time.Second {
			d = d.Round(time.Second)
		} else {
			d = d.Round(time.Millisecond)
		}
		duration = d.String()
	}
	type line struct {
		label string
		value any
		style int // of the label
	}
	lines := []line{
		{"Command", text(sum.Command), 0},
		{"Input file", text(sum.InputFile), 0},
		{"Input SHA-256", text(sum.InputSHA256), 0},
		{"Rows read", sum.RowsRead, 0},
		{"Hidden rows", hiddenText(sum), 0},
		{"Start", text(timeText(sum.Start)), 0},
		{"End", text(timeText(sum.End)), 0},
		{"Duration", text(duration), 0},
		{"API domain", text(sum.APIDomain), 0},
		{"Dry run", yesNo(sum.DryRun), 0},
		{"Sandbox", sandboxText(sum), 0},
		{"Version", text(sum.Version), 0},
	}
	if sum.Note != "" {
		lines = append(lines, line{"Note", sum.Note, 0})
	}
	lines = append(lines, line{}, line{"Outcome", "Rows", 0})
	total := 0
	for _, o := range result.Outcomes() {
		lines = append(lines, line{string(o), counts[o], s.style.outcome[o]})
		total += counts[o]
	}
	lines = append(lines, line{"Total", total, 0})

	for i, l := range lines {
		if l.label == "" {
			continue
		}
		style := l.style
		if style == 0 {
			style = s.style.label
		}
		value := l.value
		if l.label == "Outcome" {
			value = excelize.Cell{StyleID: s.style.label, Value: l.value}
		}
		cell := excelize.Cell{StyleID: style, Value: l.label}
		if err := sw.SetRow("A"+strconv.Itoa(i+1), []any{cell, value}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// hiddenText says how many rows the sheet hides and what became of them.
func hiddenText(sum Summary) string {
	switch {
	case sum.HiddenRows == 0:
		return "0"
	case sum.IncludeHidden:
		return fmt.Sprintf("%d, planned like the others (--include-hidden)", sum.HiddenRows)
	}
	return fmt.Sprintf("%d, skipped (HIDDEN_ROW)", sum.HiddenRows)
}

func (s *xlsxSink) commit() error { return s.out.commit() }

func (s *xlsxSink) discard() {
	_ = s.f.Close()
	s.out.remove()
}

// sandboxText says whether the run was against Zoho: the built-in sandbox,
// a local endpoint (a simulator on this machine), or no.
func sandboxText(sum Summary) string {
	switch {
	case sum.Sandbox:
		return "yes"
	case sum.Local:
		return "a local endpoint, not Zoho (" + sum.APIDomain + ")"
	}
	return "no"
}
